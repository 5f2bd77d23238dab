/**
 * The kubeadm stand-in with kubeconfig files that exist before `kubeadm init`, as kubeha places
 * them: like the real kubeadm (kubeconfig.go validateKubeConfig) it reuses a file whose CA is the
 * cluster CA, only warns about a different server URL, and refuses a file from a foreign CA with
 * kubeadm's error text. The reused client-certificate kubeconfigs then work against the
 * kube-apiserver stand-in, which accepts client certificates that chain to the cluster CA only.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { cleanStale, freePort, killUnder, runBin, type Run } from "./helpers.ts";

const PREFIX = "kubeha-standins-kubeconfigs-";
let work: string;
let port: number;

function openssl(args: string[]): void {
  execFileSync("openssl", args, { stdio: "ignore" });
}

/** A CA (`<name>.crt/.key`) in the work dir. */
function makeCa(name: string): void {
  const p = join(work, name);
  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", `${p}.key`, "-out", `${p}.crt`, "-days", "1",
    "-subj", "/CN=kubernetes", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,digitalSignature"]);
}

/** A leaf signed by `ca`: returns [certPem, keyPem]. */
function leaf(ca: string, name: string, subj: string, ext: string): [string, string] {
  const p = join(work, name);
  openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${p}.key`, "-out", `${p}.csr`, "-subj", subj]);
  writeFileSync(`${p}.ext`, ext);
  openssl(["x509", "-req", "-in", `${p}.csr`, "-CA", join(work, `${ca}.crt`), "-CAkey", join(work, `${ca}.key`), "-CAcreateserial",
    "-out", `${p}.crt`, "-days", "1", "-extfile", `${p}.ext`]);
  return [readFileSync(`${p}.crt`, "utf8"), readFileSync(`${p}.key`, "utf8")];
}

const client = (ca: string, name: string, subj: string) => leaf(ca, name, subj, "extendedKeyUsage=clientAuth\n");

/** A kubeconfig as kubeha writes it: embedded CA, client certificate and key. */
function kubeconfigText(caPem: string, server: string, user: string, [cert, key]: [string, string]): string {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "kcfg", cluster: { "certificate-authority-data": b64(caPem), server } }],
    contexts: [{ name: `${user}@kcfg`, context: { cluster: "kcfg", user } }],
    "current-context": `${user}@kcfg`,
    preferences: {},
    users: [{ name: user, user: { "client-certificate-data": b64(cert), "client-key-data": b64(key) } }],
  });
}

/** A node root with the cluster CA and an apiserver certificate for 127.0.0.1. */
function nodeRoot(name: string): string {
  const r = join(work, name);
  const pki = join(r, "etc/kubernetes/pki");
  mkdirSync(pki, { recursive: true });
  writeFileSync(join(pki, "ca.crt"), readFileSync(join(work, "ca.crt")));
  writeFileSync(join(pki, "ca.key"), readFileSync(join(work, "ca.key")), { mode: 0o600 });
  const [cert, key] = leaf("ca", `${name}-apiserver`, "/CN=kube-apiserver", "subjectAltName=IP:127.0.0.1,DNS:kubernetes\nextendedKeyUsage=serverAuth\n");
  writeFileSync(join(pki, "apiserver.crt"), cert);
  writeFileSync(join(pki, "apiserver.key"), key, { mode: 0o600 });
  return r;
}

function kubeadm(root: string, args: string[]): Run {
  return runBin("kubeadm", args, { KUBEADM_STANDIN_ROOT: root, KUBEADM_STANDIN_NO_SYSTEMD: "1" });
}

function initConfig(): string {
  const f = join(work, "init.yaml");
  writeFileSync(f, `apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: 127.0.0.1
  bindPort: ${port}
nodeRegistration:
  name: cp1
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v1.34.2
controlPlaneEndpoint: "127.0.0.1:${port}"
`);
  return f;
}

const fail = (r: Run) => `exit ${r.status}; stderr: ${r.stderr.slice(-800)}`;

before(async () => {
  cleanStale(PREFIX);
  work = mkdtempSync(join(tmpdir(), PREFIX));
  port = await freePort();
  makeCa("ca");
  makeCa("foreign");
});

after(() => {
  if (!work) return;
  if (existsSync(join(work, "reuse", "run"))) kubeadm(join(work, "reuse"), ["reset", "-f"]);
  killUnder(work);
  rmSync(work, { recursive: true, force: true });
});

test("init refuses an existing admin.conf from a foreign CA with kubeadm's error, before starting anything", () => {
  const root = nodeRoot("foreign");
  const admin = join(root, "etc/kubernetes/admin.conf");
  const text = kubeconfigText(readFileSync(join(work, "foreign.crt"), "utf8"), `https://127.0.0.1:${port}`, "kubernetes-admin",
    client("foreign", "foreign-admin", "/O=kubeadm:cluster-admins/CN=kubernetes-admin"));
  writeFileSync(admin, text, { mode: 0o600 });
  const r = kubeadm(root, ["init", "--config", initConfig()]);
  assert.equal(r.status, 1, fail(r));
  assert.match(r.stderr, /error execution phase kubeconfig\/admin: a kubeconfig file "\/etc\/kubernetes\/admin\.conf" exists already but has got the wrong CA cert/);
  assert.equal(readFileSync(admin, "utf8"), text, "the refused file is left as it was");
  assert.ok(!existsSync(join(root, "run/kubeha-standin/kube-apiserver-standin.service.pid")), "no apiserver was started");
});

test("init reuses kubeconfigs with the cluster CA (a different server only warns); their client certificates authenticate", () => {
  const root = nodeRoot("reuse");
  const caPem = readFileSync(join(work, "ca.crt"), "utf8");
  const endpoint = `https://127.0.0.1:${port}`;
  const files: Record<string, string> = {
    "admin.conf": kubeconfigText(caPem, endpoint, "kubernetes-admin", client("ca", "admin", "/O=kubeadm:cluster-admins/CN=kubernetes-admin")),
    "super-admin.conf": kubeconfigText(caPem, endpoint, "kubernetes-super-admin", client("ca", "super-admin", "/O=system:masters/CN=kubernetes-super-admin")),
    // kubeadm expects the local API server here; another URL is reused with a warning.
    "controller-manager.conf": kubeconfigText(caPem, `https://127.0.0.9:${port}`, "system:kube-controller-manager", client("ca", "kcm", "/CN=system:kube-controller-manager")),
    "scheduler.conf": kubeconfigText(caPem, endpoint, "system:kube-scheduler", client("ca", "sched", "/CN=system:kube-scheduler")),
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(join(root, "etc/kubernetes", name), text, { mode: 0o600 });

  const r = kubeadm(root, ["init", "--config", initConfig()]);
  assert.equal(r.status, 0, fail(r));
  for (const name of Object.keys(files)) {
    assert.ok(r.stdout.includes(`Using existing kubeconfig file: "/etc/kubernetes/${name}"`), `${name} reused: ${r.stdout}`);
    assert.equal(readFileSync(join(root, "etc/kubernetes", name), "utf8"), files[name], `${name} unchanged`);
  }
  assert.ok(r.stderr.includes(`a kubeconfig file "/etc/kubernetes/controller-manager.conf" exists already but has an unexpected API Server URL: expected: ${endpoint}, got: https://127.0.0.9:${port}`), r.stderr);
  assert.ok(!/admin\.conf" exists already but has an unexpected/.test(r.stderr), "admin.conf names the endpoint kubeadm expects");

  const admin = join(root, "etc/kubernetes/admin.conf");
  const nodes = runBin("kubectl", ["--kubeconfig", admin, "get", "nodes", "-o", "name"]);
  assert.equal(nodes.status, 0, nodes.stderr);
  assert.equal(nodes.stdout.trim(), "node/cp1");
  const tokens = kubeadm(root, ["token", "list", "--kubeconfig", admin]);
  assert.equal(tokens.status, 0, fail(tokens));

  // A client certificate from another CA does not get in, even with the right server CA. (The
  // stand-in ends the TLS handshake; the real kube-apiserver answers 401 Unauthorized.)
  const intruder = join(work, "intruder.conf");
  writeFileSync(intruder, kubeconfigText(caPem, endpoint, "kubernetes-admin", client("foreign", "intruder", "/O=system:masters/CN=intruder")), { mode: 0o600 });
  const denied = runBin("kubectl", ["--kubeconfig", intruder, "get", "nodes"]);
  assert.equal(denied.status, 1);
  assert.match(denied.stderr, /was refused or failed: .*(EOF occurred in violation of protocol|alert|certificate)/);
});
