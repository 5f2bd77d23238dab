/**
 * status's host certificates, with the real shell lines run by bash against a host tree built from
 * kubeha's own PKI files (paths moved under a temp root): which files each host is asked for, that
 * only certificates (never keys) come out, that embedded and referenced kubeconfig client
 * certificates are read, and that the state directory's certificates are recognised.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ensureState, inspectState, pkiFilesForHost, type State } from "../../src/pki/index.ts";
import { issueCA } from "../../src/pki/x509.ts";
import { certsScript, evaluateHostCerts, hostCertFiles, issuedFingerprints, parseCerts } from "../../src/probe/certs.ts";
import { sections } from "../../src/probe/facts.ts";
import { hostByName } from "../../src/spec/model.ts";
import { tmpCluster } from "../pki/fixtures.ts";

let fx: Awaited<ReturnType<typeof tmpCluster>>;
let state: State;
let root: string;

/** Writes `path` under the temp root. */
function put(path: string, content: string): void {
  const p = join(root, path);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, content, { mode: 0o600 });
}

/** Runs host `name`'s certificate lines with every absolute path moved under the root. */
function readHost(name: string): string {
  const lines = certsScript(fx.cluster, hostByName(fx.cluster, name)).map((l) => l.replaceAll(" /etc/", ` ${root}/etc/`));
  return execFileSync("bash", ["-c", lines.join("\n")], { encoding: "utf8" });
}

before(async () => {
  fx = await tmpCluster({ etcd: "external" });
  state = await ensureState(fx.cluster);
  root = join(fx.dir, "host");
  for (const f of pkiFilesForHost(fx.cluster, state, "cp1")) put(f.path, f.content);
  // After TLS bootstrap kubelet.conf references the rotated file that holds certificate AND key.
  const kubelet = await issueCA({ cn: "system:node:cp1", o: ["system:nodes"], isCA: true, extUsages: [], dns: [], ips: [] }, "ecdsa-p256", new Date(), 365);
  put("/var/lib/kubelet/pki/kubelet-client-current.pem", kubelet.cert! + kubelet.key);
  put("/etc/kubernetes/kubelet.conf", [
    "apiVersion: v1", "kind: Config", "users:", "- name: default-auth", "  user:",
    `    client-certificate: ${root}/var/lib/kubelet/pki/kubelet-client-current.pem`,
    `    client-key: ${root}/var/lib/kubelet/pki/kubelet-client-current.pem`, "",
  ].join("\n"));
});

after(async () => {
  await fx?.cleanup();
});

test("which files: control planes, etcd members and nodes each get theirs", () => {
  const ids = (h: string) => hostCertFiles(fx.cluster, hostByName(fx.cluster, h)).map((f) => f.id);
  assert.deepEqual(ids("cp1"), ["apiserver", "apiserver-etcd-client", "admin.conf", "super-admin.conf", "controller-manager.conf", "scheduler.conf", "kubelet.conf"]);
  // super-admin.conf is read on every control plane (it is where init ran, which may not be the
  // first in the file once that one was replaced) and is no warning where it does not exist.
  assert.deepEqual(ids("cp2"), ["apiserver", "apiserver-etcd-client", "admin.conf", "super-admin.conf", "controller-manager.conf", "scheduler.conf", "kubelet.conf"]);
  assert.deepEqual(hostCertFiles(fx.cluster, hostByName(fx.cluster, "cp2")).filter((f) => f.optional).map((f) => f.id), ["super-admin.conf"]);
  assert.deepEqual(ids("e1"), ["etcd-server", "etcd-peer", "etcd-healthcheck-client"]);
  assert.deepEqual(ids("w1"), ["kubelet.conf"]);
  assert.deepEqual(ids("lb1"), []);
});

test("the script prints certificates only; every file is read, embedded or referenced; kubeha's are recognised", async () => {
  const out = readHost("cp1");
  assert.doesNotMatch(out, /PRIVATE KEY/);
  for (const id of ["admin", "super-admin", "controller-manager", "scheduler", "apiserver/cp1"]) {
    const key = state.material(id).key.split("\n").find((l) => l.length > 40)!;
    assert.ok(!out.includes(key), `${id}'s key was printed`);
  }
  const readings = parseCerts(sections(`${out}@@end\n`).get("certs") ?? []);
  const { rows } = await inspectState(fx.cluster);
  const problems: string[] = [];
  const warnings: string[] = [];
  const now = Date.now();
  const certs = evaluateHostCerts(fx.cluster, hostByName(fx.cluster, "cp1"), readings, issuedFingerprints(rows), now, 30, problems, warnings);
  assert.deepEqual(problems, []);
  assert.deepEqual(warnings, []);
  assert.deepEqual(certs.map((c) => [c.id, c.status, c.issuedByKubeha]), [
    ["apiserver", "ok", true],
    ["apiserver-etcd-client", "ok", true],
    ["admin.conf", "ok", true],
    ["super-admin.conf", "ok", true],
    ["controller-manager.conf", "ok", true],
    ["scheduler.conf", "ok", true],
    ["kubelet.conf", "ok", undefined],
  ]);
  assert.equal(certs.find((c) => c.id === "admin.conf")!.subject, "O=kubeadm:cluster-admins, CN=kubernetes-admin");
  assert.equal(certs.find((c) => c.id === "kubelet.conf")!.subject, "O=system:nodes, CN=system:node:cp1");
  assert.ok(certs.every((c) => c.daysLeft! >= 364 || c.id === "kubelet.conf"), JSON.stringify(certs.map((c) => c.daysLeft)));

  // Expiry is counted from `now`: a year on, the 365-day leaves have expired.
  const later: string[] = [];
  evaluateHostCerts(fx.cluster, hostByName(fx.cluster, "cp1"), readings, issuedFingerprints(rows), now + 366 * 86_400_000, 30, later, []);
  assert.equal(later.filter((p) => /expired/.test(p)).length, 7, later.join("\n"));
});

test("a missing file, a token kubeconfig (no certificate, no problem), and a foreign certificate expiring soon", async () => {
  rmSync(join(root, "etc/kubernetes/scheduler.conf"));
  put("/etc/kubernetes/controller-manager.conf", "apiVersion: v1\nkind: Config\nusers:\n- name: x\n  user:\n    token: abc\n");
  const foreign = await issueCA({ cn: "kubernetes-admin", o: [], isCA: true, extUsages: [], dns: [], ips: [] }, "ecdsa-p256", new Date(), 30);
  put("/etc/kubernetes/pki/apiserver.crt", foreign.cert!);
  const readings = parseCerts(sections(`${readHost("cp1")}@@end\n`).get("certs") ?? []);
  const { rows } = await inspectState(fx.cluster);
  const problems: string[] = [];
  const warnings: string[] = [];
  const certs = evaluateHostCerts(fx.cluster, hostByName(fx.cluster, "cp1"), readings, issuedFingerprints(rows), Date.now(), 45, problems, warnings);
  const by = new Map(certs.map((c) => [c.id, c]));
  assert.equal(by.get("scheduler.conf")!.status, "missing");
  assert.deepEqual(by.get("controller-manager.conf"), {
    host: "cp1", id: "controller-manager.conf", path: "/etc/kubernetes/controller-manager.conf", status: "missing", reason: "the kubeconfig authenticates without a client certificate",
  });
  assert.equal(by.get("apiserver")!.status, "expiring");
  assert.equal(by.get("apiserver")!.issuedByKubeha, false);
  assert.deepEqual(problems, [], "a token kubeconfig has nothing to expire");
  assert.deepEqual(warnings, [
    "cp1: certificate apiserver (/etc/kubernetes/pki/apiserver.crt) expires in 29 days",
    "cp1: /etc/kubernetes/pki/apiserver.crt is not the certificate kubeha issued (kubeha apply places its own)",
    "cp1: /etc/kubernetes/scheduler.conf does not exist",
  ]);
});

test("the check reads every kubeconfig the upload places, and asks for no other but kubeadm's kubelet.conf and the optional super-admin.conf", () => {
  for (const h of fx.cluster.hosts) {
    const placed = pkiFilesForHost(fx.cluster, state, h.name).filter((f) => f.path.endsWith(".conf")).map((f) => f.path).sort();
    const checked = hostCertFiles(fx.cluster, h).filter((f) => f.form === "kubeconfig");
    const required = checked.filter((f) => !f.optional && f.id !== "kubelet.conf").map((f) => f.path).sort();
    assert.deepEqual(required, placed.filter((p) => !p.endsWith("/super-admin.conf")), h.name);
    for (const p of placed) assert.ok(checked.some((f) => f.path === p), `${h.name}: ${p} is placed but not checked`);
  }
});
