/**
 * The stand-ins end to end on loopback, without systemd (KUBEADM_STANDIN_NO_SYSTEMD=1 runs the
 * "units" as child processes with pid files; KUBEADM_STANDIN_ROOT gives each node its own root):
 * `kubeadm init` starts the apiserver stand-in with an openssl-made PKI, then `kubeadm join` must
 * succeed for a worker and a control plane and fail on a wrong CA pin, a wrong or unknown token,
 * an unreachable endpoint, and control-plane joins without (or with a wrong) certificate key.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cleanStale, freePort, killUnder, runBin, type Run } from "./helpers.ts";

const PREFIX = "kubeha-standins-e2e-";
const TOKEN = "abcdef.0123456789abcdef";
const CERT_KEY = "5e".repeat(32);
let work: string;
let port: number;
let caHash: string;
let caPem: string;

function openssl(args: string[]): void {
  execFileSync("openssl", args, { stdio: "ignore" });
}

function nodeRoot(name: string): string {
  const r = join(work, name);
  mkdirSync(join(r, "etc/kubernetes/pki"), { recursive: true });
  return r;
}

function kubeadm(root: string, args: string[], extraEnv: Record<string, string> = {}): Run {
  return runBin("kubeadm", args, {
    KUBEADM_STANDIN_ROOT: root,
    KUBEADM_STANDIN_NO_SYSTEMD: "1",
    KUBEADM_STANDIN_DISCOVERY_TIMEOUT: "3",
    ...extraEnv,
  });
}

function writeConfig(name: string, text: string): string {
  const f = join(work, name);
  writeFileSync(f, text);
  return f;
}

function joinConfig(opts: { endpoint?: string; token?: string; hash?: string; name: string; controlPlane?: string }): string {
  return `apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: "${opts.endpoint ?? `127.0.0.1:${port}`}"
    token: "${opts.token ?? TOKEN}"
    caCertHashes: ["${opts.hash ?? caHash}"]
nodeRegistration:
  name: ${opts.name}
${opts.controlPlane ?? ""}`;
}

function cpBlock(certificateKey?: string, address = "127.0.0.2"): string {
  return `controlPlane:
  localAPIEndpoint:
    advertiseAddress: ${address}
    bindPort: ${port}
${certificateKey ? `  certificateKey: "${certificateKey}"\n` : ""}`;
}

function get(url: string, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // agent: false: a fresh connection per check, as each kubeadm/kubectl run makes its own.
    const req = request(url, { ca: caPem, agent: false, timeout: 3000, headers: token ? { Authorization: `Bearer ${token}` } : {} }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

/** True once `pid` is gone or a zombie (its parent, kubeadm, exited long ago). Bounded by `ms`. */
async function exited(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      if (/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"))) return true;
    } catch {
      return true;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

function assertNoSecrets(r: Run, what: string): void {
  for (const secret of [TOKEN.split(".")[1]!, CERT_KEY]) {
    assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), `${what} printed a secret`);
  }
}

function failMessage(r: Run): string {
  return `exit ${r.status}; stderr: ${r.stderr.slice(-800)}`;
}

before(async () => {
  cleanStale(PREFIX);
  work = mkdtempSync(join(tmpdir(), PREFIX));
  // A port free on every loopback address the control planes use.
  const freeOn = (address: string) => new Promise<boolean>((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, address, () => s.close(() => resolve(true)));
  });
  for (let i = 0; i < 20; i++) {
    port = await freePort();
    if ((await freeOn("127.0.0.2")) && (await freeOn("127.0.0.3"))) break;
  }
  const ca = join(work, "ca");
  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", `${ca}.key`, "-out", `${ca}.crt`, "-days", "1",
    "-subj", "/CN=kubernetes", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,digitalSignature"]);
  caPem = readFileSync(`${ca}.crt`, "utf8");
  caHash = "sha256:" + execFileSync("bash", ["-c",
    `openssl x509 -pubkey -noout -in '${ca}.crt' | openssl pkey -pubin -outform der | sha256sum | cut -d' ' -f1`], { encoding: "utf8" }).trim();
  for (const [node, ip] of [["cp1", "127.0.0.1"], ["cp2", "127.0.0.2"], ["cp3", "127.0.0.3"]] as const) {
    const root = nodeRoot(node);
    const pki = join(root, "etc/kubernetes/pki");
    openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", join(pki, "apiserver.key"), "-out", join(work, `${node}.csr`), "-subj", "/CN=kube-apiserver"]);
    writeFileSync(join(work, `${node}.ext`), `subjectAltName=IP:${ip},DNS:kubernetes\nextendedKeyUsage=serverAuth\n`);
    openssl(["x509", "-req", "-in", join(work, `${node}.csr`), "-CA", `${ca}.crt`, "-CAkey", `${ca}.key`, "-CAcreateserial",
      "-out", join(pki, "apiserver.crt"), "-days", "1", "-extfile", join(work, `${node}.ext`)]);
  }
  copyFileSync(`${ca}.crt`, join(work, "cp1/etc/kubernetes/pki/ca.crt"));
  copyFileSync(`${ca}.key`, join(work, "cp1/etc/kubernetes/pki/ca.key"));
});

after(() => {
  if (!work) return;
  for (const node of readdirSync(work)) {
    if (existsSync(join(work, node, "run"))) kubeadm(join(work, node), ["reset", "-f"]);
  }
  killUnder(work);
  rmSync(work, { recursive: true, force: true });
});

const INIT = () => `apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
bootstrapTokens:
  - token: "${TOKEN}"
    ttl: 1h
localAPIEndpoint:
  advertiseAddress: 127.0.0.1
  bindPort: ${port}
certificateKey: "${CERT_KEY}"
nodeRegistration:
  name: cp1
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v1.34.2
controlPlaneEndpoint: "127.0.0.1:${port}"
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
healthzPort: 0
`;

test("init: refuses a missing CA key, then starts the apiserver stand-in and serves /readyz and /version", async () => {
  const cfg = writeConfig("init.yaml", INIT());
  const noCa = kubeadm(nodeRoot("bare"), ["init", "--config", cfg]);
  assert.equal(noCa.status, 1);
  assert.match(noCa.stderr, /ca\.crt is missing \(kubeha places it/);

  const r = kubeadm(join(work, "cp1"), ["init", "--config", cfg, "--upload-certs", "--skip-token-print", "--skip-certificate-key-print"]);
  assert.equal(r.status, 0, failMessage(r));
  assertNoSecrets(r, "init");
  assert.match(r.stdout, /initialized successfully! \(stand-in/);
  const ready = await get(`https://127.0.0.1:${port}/readyz`);
  assert.equal(ready.status, 200);
  assert.match(ready.body, /stand-in/);
  const version = JSON.parse((await get(`https://127.0.0.1:${port}/version`)).body) as { gitVersion: string };
  assert.equal(version.gitVersion, "v1.34.2-standin");
  assert.equal(statSync(join(work, "cp1/etc/kubernetes/admin.conf")).mode & 0o777, 0o600);
  for (const pod of ["kube-controller-manager", "kube-scheduler"]) {
    const m = join(work, `cp1/etc/kubernetes/manifests/${pod}.yaml`);
    assert.equal(statSync(m).mode & 0o777, 0o600, `kubeadm writes the ${pod} static pod as the real one does`);
    const text = readFileSync(m, "utf8");
    assert.ok(text.includes(`    - ${pod}\n    - "--authentication-kubeconfig=/etc/kubernetes/`), text);
  }

  const again = kubeadm(join(work, "cp1"), ["init", "--config", cfg]);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /\[ERROR FileAvailable--etc-kubernetes-manifests-kube-apiserver\.yaml\]/);
});

test("join fails on a wrong CA hash, a wrong or unknown token, an unreachable endpoint, a missing certificate key", async () => {
  const cases: Array<[string, string, RegExp]> = [
    ["wrong CA hash", joinConfig({ name: "bad1", hash: `sha256:${"0".repeat(64)}` }), /none of the public keys "sha256:[0-9a-f]{64}" are pinned/],
    ["wrong token secret", joinConfig({ name: "bad2", token: "abcdef.0123456789abcdee" }), /failed to verify JWS signature/],
    ["unknown token", joinConfig({ name: "bad3", token: "zzzzzz.0123456789abcdef" }), /couldn't validate the identity of the API Server .*could not find a JWS signature in the cluster-info ConfigMap for token ID "zzzzzz"/],
    ["malformed token", joinConfig({ name: "bad4", token: "abcdef.0123" }), /discovery\.bootstrapToken\.token: Invalid value/],
    ["unreachable endpoint", joinConfig({ name: "bad5", endpoint: `127.0.0.1:${await freePort()}` }), /couldn't validate the identity of the API Server .*Connection refused/],
    // kubeadm's join preflight without a certificate key: the shared certificates must be on disk.
    ["control plane without certificateKey nor shared certificates", joinConfig({ name: "bad6", controlPlane: cpBlock() }),
      /error execution phase preflight: \nOne or more conditions for hosting a new control plane instance is not satisfied\.\n\n\[failure loading certificate for CA: couldn't load the certificate file \/etc\/kubernetes\/pki\/ca\.crt: open \/etc\/kubernetes\/pki\/ca\.crt: no such file or directory, failure loading key for service account: couldn't load the private key file \/etc\/kubernetes\/pki\/sa\.key: open \/etc\/kubernetes\/pki\/sa\.key: no such file or directory, failure loading certificate for front-proxy CA: .*front-proxy-ca\.crt: no such file or directory, failure loading certificate for etcd CA: .*etcd\/ca\.crt: no such file or directory\]\n\nPlease ensure that:\n\* The cluster has a stable controlPlaneEndpoint address\.\n\* The certificates that must be shared among control plane instances are provided\./],
    ["control plane with a wrong certificateKey", joinConfig({ name: "bad7", controlPlane: cpBlock("7a".repeat(32)) }), /message authentication failed/],
  ];
  for (const [what, text, re] of cases) {
    const root = nodeRoot(`neg-${what.replace(/\W+/g, "-")}`);
    const started = Date.now();
    const r = kubeadm(root, ["join", "--config", writeConfig("neg.yaml", text)]);
    assert.equal(r.status, 1, `${what}: ${failMessage(r)}`);
    assert.match(r.stderr, re, what);
    assert.match(r.stderr, /stand-in/, what);
    assertNoSecrets(r, what);
    assert.ok(Date.now() - started < 20_000, `${what} took too long`);
    assert.ok(!existsSync(join(root, "etc/kubernetes/kubelet.conf")), `${what} wrote kubelet.conf`);
  }
  const ready = await get(`https://127.0.0.1:${port}/readyz`);
  assert.equal(ready.status, 200, "the failed joins left the first control plane healthy");
});

test("token create --ttl: the bootstrap-token Secret carries the expiration; a join line from flags is refused once it passed", async () => {
  const admin = join(work, "cp1/etc/kubernetes/admin.conf");
  const short = "shortt.0123456789abcdef";
  const createdFrom = Date.now();
  const c = kubeadm(join(work, "cp1"), ["token", "create", short, "--ttl", "2s", "--kubeconfig", admin]);
  const createdBy = Date.now();
  assert.equal(c.status, 0, failMessage(c));
  // The kubeadm stand-in's admin.conf carries a bearer token (it signs no client certificate).
  const bearer = /^\s*token: (\S+)$/m.exec(readFileSync(admin, "utf8"))![1]!;
  const s = await get(`https://127.0.0.1:${port}/api/v1/namespaces/kube-system/secrets/bootstrap-token-shortt`, bearer);
  assert.equal(s.status, 200, s.body);
  const secret = JSON.parse(s.body) as { type: string; data: Record<string, string> };
  const field = (k: string) => Buffer.from(secret.data[k] ?? "", "base64").toString();
  assert.equal(secret.type, "bootstrap.kubernetes.io/token");
  assert.equal(field("token-id"), "shortt");
  assert.equal(field("usage-bootstrap-authentication"), "true");
  // Creation time + 2 s, in whole seconds (RFC 3339): bounded by when the command ran, however long it took.
  const expires = Date.parse(field("expiration"));
  assert.ok(expires >= createdFrom + 2000 - 1000 && expires <= createdBy + 2000, `expiration ${field("expiration")}, created between ${new Date(createdFrom).toISOString()} and ${new Date(createdBy).toISOString()}`);
  const left = expires - Date.now();
  await new Promise((r) => setTimeout(r, Math.max(0, left) + 1500));
  const root = nodeRoot("expired");
  const r = kubeadm(root, ["join", `127.0.0.1:${port}`, "--token", short, "--discovery-token-ca-cert-hash", caHash, "--node-name", "expired"]);
  assert.equal(r.status, 1, failMessage(r));
  assert.match(r.stderr, /couldn't validate the identity of the API Server .*could not find a JWS signature in the cluster-info ConfigMap for token ID "shortt"/);
  assert.ok(!existsSync(join(root, "etc/kubernetes/kubelet.conf")), "the refused join wrote kubelet.conf");
  const mixed = kubeadm(nodeRoot("mixed"), ["join", `127.0.0.1:${port}`, "--config", writeConfig("w1.yaml", joinConfig({ name: "w1" })), "--token", TOKEN]);
  assert.equal(mixed.status, 1);
  assert.match(mixed.stderr, /can not mix '--config' with arguments/);
  const noPin = kubeadm(nodeRoot("nopin"), ["join", `127.0.0.1:${port}`, "--token", TOKEN]);
  assert.equal(noPin.status, 1);
  assert.match(noPin.stderr, /caCertHashes: Invalid value: using token-based discovery without caCertHashes/);
});

test("join: a control plane without a certificate key joins with the shared certificates already on disk (kubeadm's manual distribution)", async () => {
  const root = join(work, "cp3");
  const pki = join(root, "etc/kubernetes/pki");
  const partial = kubeadm(root, ["join", "--config", writeConfig("cp3.yaml", joinConfig({ name: "cp3", controlPlane: cpBlock(undefined, "127.0.0.3") }))]);
  assert.equal(partial.status, 1, "refused while the shared certificates are missing");
  assert.match(partial.stderr, /One or more conditions for hosting a new control plane instance is not satisfied/);
  // What kubeha places on every control plane of an Ignition config: the CAs, the service-account keys.
  copyFileSync(join(work, "ca.crt"), join(pki, "ca.crt"));
  copyFileSync(join(work, "ca.key"), join(pki, "ca.key"));
  openssl(["genpkey", "-algorithm", "RSA", "-out", join(pki, "sa.key")]);
  openssl(["pkey", "-in", join(pki, "sa.key"), "-pubout", "-out", join(pki, "sa.pub")]);
  mkdirSync(join(pki, "etcd"), { recursive: true });
  for (const [base, cn] of [["front-proxy-ca", "front-proxy-ca"], ["etcd/ca", "etcd-ca"]] as const) {
    openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(pki, `${base}.key`), "-out", join(pki, `${base}.crt`), "-days", "1",
      "-subj", `/CN=${cn}`, "-addext", "basicConstraints=critical,CA:TRUE"]);
  }
  const onlySa = kubeadm(root, ["join", "--config", join(work, "cp3.yaml")]);
  assert.equal(onlySa.status, 0, failMessage(onlySa));
  assert.match(onlySa.stdout, /download-certs\] Skipping: no certificate key/);
  assert.match(onlySa.stdout, /This node has joined the cluster as a control plane/);
  assertNoSecrets(onlySa, "control-plane join without a certificate key");
  const ready = await get(`https://127.0.0.3:${port}/readyz`);
  assert.equal(ready.status, 200, "the third control plane's apiserver stand-in answers");
});

test("join: a worker and a second control plane join; nodes are shared; the second survives the first", async () => {
  const w = kubeadm(nodeRoot("w1"), ["join", "--config", writeConfig("w1.yaml", joinConfig({ name: "w1" }))]);
  assert.equal(w.status, 0, failMessage(w));
  assertNoSecrets(w, "worker join");
  // The line `kubeadm token create --print-join-command` prints, flags instead of a file.
  const wf = kubeadm(nodeRoot("wf"), ["join", `127.0.0.1:${port}`, "--token", TOKEN, "--discovery-token-ca-cert-hash", caHash, "--node-name", "wf"]);
  assert.equal(wf.status, 0, failMessage(wf));
  assert.equal(readFileSync(join(work, "w1/etc/kubernetes/pki/ca.crt"), "utf8"), caPem);

  const cp = kubeadm(join(work, "cp2"), ["join", "--config", writeConfig("cp2.yaml", joinConfig({ name: "cp2", controlPlane: cpBlock(CERT_KEY) }))]);
  assert.equal(cp.status, 0, failMessage(cp));
  assert.equal(readFileSync(join(work, "cp2/etc/kubernetes/pki/ca.key"), "utf8"), readFileSync(join(work, "ca.key"), "utf8"));
  assert.equal(statSync(join(work, "cp2/etc/kubernetes/pki/ca.key")).mode & 0o777, 0o600);

  const admin = join(work, "cp1/etc/kubernetes/admin.conf");
  const nodes = runBin("kubectl", ["--kubeconfig", admin, "get", "nodes", "-o", "json"]);
  assert.equal(nodes.status, 0, nodes.stderr);
  const list = JSON.parse(nodes.stdout) as { items: Array<{ metadata: { name: string; labels: Record<string, string> } }> };
  assert.deepEqual(list.items.map((n) => n.metadata.name).sort(), ["cp1", "cp2", "cp3", "w1", "wf"]);
  assert.ok("node-role.kubernetes.io/control-plane" in list.items.find((n) => n.metadata.name === "cp2")!.metadata.labels);
  assert.ok(!("node-role.kubernetes.io/control-plane" in list.items.find((n) => n.metadata.name === "w1")!.metadata.labels));

  // Stop the first apiserver by its pid: the second still answers with the replicated store.
  const pid = Number(readFileSync(join(work, "cp1/run/kubeha-standin/kube-apiserver-standin.service.pid"), "utf8"));
  process.kill(pid, "SIGTERM");
  assert.ok(await exited(pid, 5000), "the apiserver stand-in did not exit on SIGTERM within 5 s");
  const adminText = readFileSync(join(work, "cp2/etc/kubernetes/admin.conf"), "utf8").replace(`127.0.0.1:${port}`, `127.0.0.2:${port}`);
  const admin2 = writeConfig("admin2.conf", adminText);
  const viaCp2 = runBin("kubectl", ["--kubeconfig", admin2, "get", "nodes"]);
  assert.equal(viaCp2.status, 0, viaCp2.stderr);
  assert.match(viaCp2.stdout, /^cp1 .*\n(.*\n)*cp2 .*control-plane.*\n(.*\n)*w1 /m);
  // Nothing serves /readyz there any more (refused, or reset by the dying listener).
  await assert.rejects(get(`https://127.0.0.1:${port}/readyz`), /ECONNREFUSED|ECONNRESET|socket hang up/);
});
