/**
 * `kubeha certs ...` as a user runs it (a child process), with every command's output scanned
 * for the secrets in the state directory at the end.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmod, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { tmpCluster } from "./fixtures.ts";
import { secretsInStateDir, assertNoSecrets } from "../helpers/secrets.ts";
import { caCertHash } from "../../src/pki/index.ts";

const run = promisify(execFile);
const BIN = resolve(import.meta.dirname, "../../bin/kubeha.mjs");

let fx: Awaited<ReturnType<typeof tmpCluster>>;
let stateDir: string;
const outputs: string[] = [];
const secrets = new Set<string>();

async function kubeha(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let r: { code: number; stdout: string; stderr: string };
  try {
    const o = await run(process.execPath, [BIN, ...args], { cwd: fx.dir, encoding: "utf8", timeout: 60_000 });
    r = { code: 0, stdout: o.stdout, stderr: o.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    r = { code: typeof err.code === "number" ? err.code : -1, stdout: err.stdout ?? "", stderr: err.stderr ?? "" };
  }
  outputs.push(`$ kubeha ${args.join(" ")}\n${r.stdout}${r.stderr}`);
  // Secrets change (rotate-join), so remember every generation of them.
  for (const s of await secretsInStateDir(stateDir).catch(() => [])) secrets.add(s);
  return r;
}

before(async () => {
  fx = await tmpCluster();
  stateDir = fx.cluster.pki.stateDir;
});

after(async () => {
  await fx.cleanup();
});

test("list before any PKI exists fails with a hint to generate", async () => {
  const r = await kubeha("certs", "list", "cluster.yaml");
  assert.equal(r.code, 1);
  assert.match(r.stderr, /state directory .*\.kubeha\/pkitest does not exist/);
  assert.match(r.stderr, /hint: run `kubeha certs generate FILE`/);
});

test("generate issues everything once; a second run reuses everything", async () => {
  const first = await kubeha("certs", "generate", "cluster.yaml");
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /^  issued  apiserver\/cp2 \(missing\)$/m);
  assert.match(first.stdout, /^19 issued, 0 reused; secrets created$/m);
  const second = await kubeha("certs", "generate", "cluster.yaml");
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /^0 issued, 19 reused; secrets reused$/m);
});

test("list prints subject, SANs, issuer, not-after, days left for every certificate, and the CA hash", async () => {
  const r = await kubeha("certs", "list", "cluster.yaml");
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split("\n");
  assert.match(lines[0]!, /^CERTIFICATE\s+SUBJECT\s+SANS\s+ISSUER\s+NOT AFTER\s+DAYS LEFT\s+STATUS$/);
  const row = lines.find((l) => l.startsWith("apiserver/cp3 "))!;
  assert.match(row, /CN=kube-apiserver\s+DNS:cp3,DNS:kubernetes,.*DNS:api\.kubeha\.test,IP:10\.96\.0\.1,IP:127\.31\.3\.13,IP:127\.31\.3\.100\s+CN=kubernetes\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s+36[45]\s+ok$/);
  assert.match(lines.find((l) => l.startsWith("admin "))!, /O=kubeadm:cluster-admins, CN=kubernetes-admin/);
  assert.equal(lines.filter((l) => / ok$/.test(l)).length, 19);
  const ca = await readFile(join(stateDir, "pki/ca.crt"), "utf8");
  assert.match(r.stdout, new RegExp(`CA cert hash \\(discovery-token-ca-cert-hash\\): ${caCertHash(ca)}$`, "m"));
});

test("check exits 0 within the threshold and 1 when certificates expire within it", async () => {
  const ok = await kubeha("certs", "check", "cluster.yaml");
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /all 19 certificates valid for more than 30 days/);
  const bad = await kubeha("certs", "check", "--threshold-days", "400", "cluster.yaml");
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /15 of 19 certificates need attention \(apiserver\/cp1: expiring, .*, and 10 more\); threshold 400 days/);
  assert.match(bad.stdout, /^scheduler .* expiring$/m);
  const usage = await kubeha("certs", "check", "--threshold-days", "soon", "cluster.yaml");
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--threshold-days must be a whole number of days/);
});

test("check reports a deleted leaf as missing; generate re-issues just that one", async () => {
  const { rm } = await import("node:fs/promises");
  await rm(join(stateDir, "pki/hosts/e2/etcd-peer.crt"));
  const check = await kubeha("certs", "check", "cluster.yaml");
  assert.equal(check.code, 1);
  assert.match(check.stderr, /1 of 19 certificates need attention \(etcd-peer\/e2: missing\)/);
  const gen = await kubeha("certs", "generate", "cluster.yaml");
  assert.match(gen.stdout, /^1 issued, 18 reused; secrets reused$/m);
  assert.match(gen.stdout, /^  issued  etcd-peer\/e2 \(certificate missing\)$/m);
});

test("rotate-join prints the public token id only and changes token and certificate key", async () => {
  const before = JSON.parse(await readFile(join(stateDir, "secrets.json"), "utf8"));
  const r = await kubeha("certs", "rotate-join", "cluster.yaml");
  assert.equal(r.code, 0, r.stderr);
  const after = JSON.parse(await readFile(join(stateDir, "secrets.json"), "utf8"));
  assert.notEqual(after.join.token, before.join.token);
  assert.notEqual(after.join.certificateKey, before.join.certificateKey);
  assert.match(r.stdout, new RegExp(`^New bootstrap token ${after.join.token.split(".")[0]}\\.<secret> \\(TTL 24h\\)`, "m"));
});

test("a 0755 state dir is refused with a clear message and a chmod hint", async () => {
  await chmod(stateDir, 0o755);
  try {
    for (const sub of ["generate", "list", "rotate-join"]) {
      const r = await kubeha("certs", sub, "cluster.yaml");
      assert.equal(r.code, 1, sub);
      assert.match(r.stderr, /kubeha: error: state directory .* is accessible by other users: \. \(mode 0755\)/, sub);
      assert.match(r.stderr, /hint: run `chmod -R go-rwx .*\.kubeha\/pkitest`/, sub);
    }
  } finally {
    await chmod(stateDir, 0o700);
  }
});

test("usage errors exit 2; --help shows examples", async () => {
  assert.equal((await kubeha("certs")).code, 2);
  assert.equal((await kubeha("certs", "list")).code, 2);
  assert.equal((await kubeha("certs", "unknown-sub", "cluster.yaml")).code, 2);
  const both = await kubeha("certs", "renew", "cluster.yaml", "--all", "apiserver");
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--all and certificate names \(apiserver\) exclude each other/);
  assert.equal((await kubeha("certs", "renew", "cluster.yaml", "--all", "--threshold-days", "9")).code, 2);
  assert.equal((await kubeha("certs", "list", "cluster.yaml", "--dry-run")).code, 2, "--dry-run belongs to renew");
  const help = await kubeha("certs", "--help");
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Examples:\n  kubeha certs generate cluster\.yaml/);
});

test("no command output above contains a private key, token, certificate key or password", async () => {
  assert.ok(outputs.length >= 15);
  assert.ok(secrets.size > 40);
  assertNoSecrets(outputs.join("\n"), [...secrets], "kubeha certs output");
});
