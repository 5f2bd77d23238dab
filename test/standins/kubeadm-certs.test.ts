/**
 * The kubeadm stand-in's `certs renew` and `certs check-expiration`: names checked against
 * kubeadm's list with kubeadm's refusals, a missing file answered as kubeadm does (`MISSING!`),
 * an existing one refused (the stand-in cannot sign), and the expiry table read from the files.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runBin } from "./helpers.ts";
import { issueCA, issueLeaf } from "../../src/pki/x509.ts";

const root = mkdtempSync(join(tmpdir(), "kubeha-standin-certs-"));
after(() => rmSync(root, { recursive: true, force: true }));
const kubeadm = (...args: string[]) => runBin("kubeadm", args, { KUBEADM_STANDIN_ROOT: root });

test("certs renew: unknown names and a bare `renew` get kubeadm's errors", () => {
  const bad = kubeadm("certs", "renew", "apiserver-typo");
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /invalid subcommand: "apiserver-typo"/);
  const bare = kubeadm("certs", "renew");
  assert.equal(bare.status, 1);
  assert.match(bare.stderr, /missing subcommand; "renew" is not meant to be run on its own/);
  const flag = kubeadm("certs", "renew", "front-proxy-client", "--bogus");
  assert.equal(flag.status, 1);
  assert.match(flag.stderr, /unknown flag: --bogus/);
});

test("certs renew: a missing certificate is MISSING! (exit 0, as kubeadm); an existing one is refused, the stand-in signs nothing", async () => {
  const miss = kubeadm("certs", "renew", "front-proxy-client");
  assert.equal(miss.status, 0, miss.stderr);
  assert.match(miss.stdout, /stand-in.*MISSING! certificate for the front proxy client/);
  const ca = await issueCA({ cn: "kubernetes", o: [], isCA: true, extUsages: [], dns: ["kubernetes"], ips: [] }, "ecdsa-p256", new Date(), 3650);
  const leaf = await issueLeaf({ cn: "front-proxy-client", o: [], isCA: false, extUsages: ["clientAuth"], dns: [], ips: [] }, "ecdsa-p256", { cert: ca.cert!, key: ca.key }, new Date(), 100);
  mkdirSync(join(root, "etc/kubernetes/pki"), { recursive: true });
  writeFileSync(join(root, "etc/kubernetes/pki/ca.crt"), ca.cert!);
  writeFileSync(join(root, "etc/kubernetes/pki/front-proxy-client.crt"), leaf.cert!);
  const there = kubeadm("certs", "renew", "front-proxy-client");
  assert.equal(there.status, 1);
  assert.match(there.stderr, /front-proxy-client\.crt exists and the stand-in cannot sign certificates/);

  const table = kubeadm("certs", "check-expiration");
  assert.equal(table.status, 0, table.stderr);
  const lines = table.stdout.split("\n").filter((l) => l.trim());
  assert.ok(lines.every((l) => l.includes("stand-in")), "every line says stand-in");
  assert.match(table.stdout, /front-proxy-client\s+\w{3} \d\d, \d{4} \d\d:\d\d UTC\s+(99|100)d\s+front-proxy-ca\s+no/);
  assert.match(table.stdout, /!MISSING! apiserver-kubelet-client/);
  assert.match(table.stdout, /\bca\s+\w{3} \d\d, \d{4} \d\d:\d\d UTC\s+9y\s+no/);
});
