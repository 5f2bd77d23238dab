/**
 * Binary mode's server side with the stand-ins: bin/kube-apiserver started with kubeha's rendered
 * command line for examples/seed-001-binary.yaml (master01 moved to a loopback address; only the
 * secure port and the etcd URL rewritten) against a real etcd with mutual TLS from kubeha's etcd PKI;
 * the rendered tls-bootstrap.yaml applied with the real kubectl; the controller-manager stand-in
 * with its rendered command line (only its serving port rewritten). Asserted: a kubelet-style CSR
 * created with the bootstrap token is approved and signed within a bounded time and the issued
 * certificate authenticates as system:node:<name>; the node gets a podCIDR from --cluster-cidr; the
 * refusals: unknown flag, missing file, encryption config with a short key or group-readable,
 * expired token, wrong token secret, a token whose group has no system:node-bootstrapper binding
 * (RBAC's 403), a bootstrap token creating a Node (403), a malformed request (422), a CSR whose
 * subject is not a node's (never approved). The CSR is awaited through a watch, as the kubelet does.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parse } from "yaml";
import { BIN, freePort, cleanStaleWorkDirs, recordPid } from "./helpers.ts";
import { REPO } from "../render/helpers.ts";
import { parseCluster } from "../../src/spec/read.ts";
import type { Cluster } from "../../src/spec/model.ts";
import { ensureState, pkiFilesForHost } from "../../src/pki/index.ts";
import { renderCluster } from "../../src/render/index.ts";
import { findRealKubectl } from "../../src/lab/kubectl.ts";

const PREFIX = "kubeha-standins-binary-server-";
/** master01's address for this test: loopback, used by no other stand-in test. */
const ADDR = "127.0.0.214";
let work: string;
let root: string;
let apiPort: number;
let etcdPort: number;
let token: string;
let caPem: string;
let apiserverArgv: string[];
let cmArgv: string[];
let kubectl: string;
let admin: { cert: string; key: string };
const procs: ChildProcess[] = [];

function track(p: ChildProcess): ChildProcess {
  procs.push(p);
  recordPid(work, p.pid);
  return p;
}

const cleanStale = () => cleanStaleWorkDirs(PREFIX);

/** The ExecStart command line of a rendered unit: [binary, ...flags]. */
function execStart(unit: string): string[] {
  const m = /^ExecStart=((?:.*\\\n)*.*)$/m.exec(unit);
  assert.ok(m, "the unit has an ExecStart");
  return m[1]!.replace(/\\\n/g, " ").trim().split(/\s+/);
}

function withFlag(argv: string[], name: string, value: string): string[] {
  const out = argv.filter((a) => !a.startsWith(`--${name}=`));
  return [...out, `--${name}=${value}`];
}

const env = () => ({ ...process.env, PYTHONDONTWRITEBYTECODE: "1", KUBEADM_STANDIN_ROOT: root, KUBEADM_STANDIN_NO_SYSTEMD: "1" });

interface Reply {
  status: number;
  body: string;
  json: () => any;
}

/** HTTPS to the apiserver with a bearer token or a client certificate. */
function call(method: string, path: string, auth: { token?: string; cert?: string; key?: string }, body?: unknown, ctype = "application/json"): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: ADDR, port: apiPort, path, method, ca: caPem, cert: auth.cert, key: auth.key, timeout: 10_000,
        headers: { ...(auth.token ? { Authorization: `Bearer ${auth.token}` } : {}), ...(body ? { "Content-Type": ctype } : {}) } },
      (res) => {
        let data = "";
        res.on("data", (c: Buffer) => (data += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: data, json: () => JSON.parse(data) }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

async function until<T>(what: string, ms: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const got = await check().catch(() => undefined);
    if (got !== undefined) return got;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail(`${what} not reached within ${ms} ms`);
}

const openssl = (args: string[]) => execFileSync("openssl", args, { cwd: work, stdio: ["ignore", "pipe", "pipe"] }).toString();

/** A kubelet-style key and CSR (EC P-256, as the kubelet makes them); the PEM request. */
function makeCsr(name: string, subj: string): string {
  openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}.key`, "-subj", subj, "-out", `${name}.csr`]);
  chmodSync(join(work, `${name}.key`), 0o600);
  return readFileSync(join(work, `${name}.csr`), "utf8");
}

function csrObject(pem: string, usages = ["digital signature", "client auth"]): unknown {
  return {
    apiVersion: "certificates.k8s.io/v1",
    kind: "CertificateSigningRequest",
    metadata: { generateName: "node-csr-" },
    spec: { signerName: "kubernetes.io/kube-apiserver-client-kubelet", usages, request: Buffer.from(pem).toString("base64") },
  };
}

const CSRS = "/apis/certificates.k8s.io/v1/certificatesigningrequests";

/** Watch one CSR (fieldSelector by name, timeoutSeconds bounded) until an event carries status.certificate. */
function watchUntilCertificate(name: string, bearer: string, seconds: number): Promise<any> {
  return new Promise((resolve, reject) => {
    const path = `${CSRS}?watch=true&fieldSelector=${encodeURIComponent(`metadata.name=${name}`)}&timeoutSeconds=${seconds}`;
    const req = request({ host: ADDR, port: apiPort, path, method: "GET", ca: caPem, headers: { Authorization: `Bearer ${bearer}` } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`watch: HTTP ${res.statusCode}`));
      let buf = "";
      res.on("data", (c: Buffer) => {
        buf += c.toString();
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const ev = JSON.parse(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
          if (ev.object?.metadata?.name !== name) return reject(new Error(`watch: an event for ${ev.object?.metadata?.name}`));
          if (ev.object.status?.certificate) {
            req.destroy();
            return resolve(ev.object);
          }
        }
      });
      res.on("end", () => reject(new Error(`watch ended after ${seconds} s without a certificate`)));
    });
    req.on("error", (e) => (req.destroyed ? undefined : reject(e)));
    req.end();
  });
}

/** A bootstrap token Secret as kubeadm writes one, applied with the real kubectl. */
function applyToken(id: string, secret: string, expiration: string, groups: string): void {
  const file = join(work, `token-${id}.yaml`);
  writeFileSync(file, [
    "apiVersion: v1", "kind: Secret", "metadata:", `  name: bootstrap-token-${id}`, "  namespace: kube-system",
    "type: bootstrap.kubernetes.io/token", "stringData:", `  token-id: ${id}`, `  token-secret: ${secret}`,
    `  expiration: "${expiration}"`, '  usage-bootstrap-authentication: "true"', `  auth-extra-groups: ${groups}`, "",
  ].join("\n"), { mode: 0o600 });
  const r = runKubectl(["apply", "-f", file]);
  assert.equal(r.status, 0, r.stderr);
}

function runKubectl(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(kubectl, ["--kubeconfig", join(root, "etc/kubernetes/super-admin.conf"), ...args], { encoding: "utf8", timeout: 60_000, env: { ...process.env, HOME: work } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(async () => {
  cleanStale();
  work = mkdtempSync(join(tmpdir(), PREFIX));
  root = join(work, "root");
  const file = join(REPO, "examples", "seed-001-binary.yaml");
  const parsed = parseCluster(readFileSync(file, "utf8"), { sourcePath: file, home: "/home/kubeha-test" });
  assert.ok(parsed.cluster);
  const c: Cluster = {
    ...parsed.cluster,
    hosts: parsed.cluster.hosts.map((h) => (h.name === "master01" ? { ...h, internalAddress: ADDR } : h)),
    pki: { ...parsed.cluster.pki, stateDir: join(work, "state") },
  };
  const state = await ensureState(c);
  token = state.secrets.join.token;
  apiPort = await freePort();
  etcdPort = await freePort();
  const m1 = renderCluster(c, state.secrets, { pkiFiles: (n) => pkiFilesForHost(c, state, n) }).find((h) => h.host === "master01")!;
  for (const f of m1.files) {
    const dest = join(root, f.path);
    mkdirSync(dirname(dest), { recursive: true });
    // The kubeconfigs name the API server's secure port: the test's own port on this loopback address.
    const content = f.path.endsWith(".conf") ? f.content.replace(/server: https:\/\/\S+/g, `server: https://${ADDR}:${apiPort}`) : f.content;
    writeFileSync(dest, content, { mode: f.mode ?? 0o644 });
    chmodSync(dest, f.mode ?? 0o644);
  }
  caPem = readFileSync(join(root, "etc/kubernetes/pki/ca.crt"), "utf8");
  const superAdmin = parse(readFileSync(join(root, "etc/kubernetes/super-admin.conf"), "utf8"));
  admin = {
    cert: Buffer.from(superAdmin.users[0].user["client-certificate-data"], "base64").toString(),
    key: Buffer.from(superAdmin.users[0].user["client-key-data"], "base64").toString(),
  };
  const unit = (name: string) => m1.files.find((f) => f.path === `/etc/systemd/system/${name}.service`)!.content;
  const api = execStart(unit("kube-apiserver"));
  assert.equal(api[0], "/usr/bin/kube-apiserver");
  assert.ok(api.includes(`--advertise-address=${ADDR}`));
  apiserverArgv = withFlag(withFlag(api.slice(1), "secure-port", String(apiPort)), "etcd-servers", `https://${ADDR}:${etcdPort}`);
  const cm = execStart(unit("kube-controller-manager"));
  assert.equal(cm[0], "/usr/bin/kube-controller-manager");
  cmArgv = withFlag(cm.slice(1), "secure-port", String(await freePort()));

  // A real etcd with kubeha's etcd PKI for master01: client certificates required (the apiserver's is apiserver-etcd-client).
  const pki = (p: string) => join(root, "etc/etcd/pki", p);
  const peer = await freePort();
  track(spawn("etcd", ["--name", "master01", "--data-dir", join(work, "etcd"),
    "--listen-client-urls", `https://${ADDR}:${etcdPort}`, "--advertise-client-urls", `https://${ADDR}:${etcdPort}`,
    "--cert-file", pki("server.crt"), "--key-file", pki("server.key"), "--client-cert-auth", "--trusted-ca-file", pki("ca.crt"),
    "--listen-peer-urls", `http://${ADDR}:${peer}`, "--initial-advertise-peer-urls", `http://${ADDR}:${peer}`,
    "--initial-cluster", `master01=http://${ADDR}:${peer}`], { stdio: ["ignore", "ignore", openSync(join(work, "etcd.log"), "a")] }));
  track(spawn("python3", [join(BIN, "kube-apiserver"), ...apiserverArgv], { stdio: ["ignore", "ignore", openSync(join(work, "apiserver.log"), "a")], env: env() }));
  await until("the kube-apiserver stand-in ready (etcd reached over mTLS)", 30_000, async () =>
    (await call("GET", "/readyz", admin)).status === 200 ? true : undefined);
  const real = await findRealKubectl(34);
  assert.ok(real, "this machine has a real kubectl (the project's machines do)");
  kubectl = real.path;
  const r = runKubectl(["apply", "-f", join(root, "etc/kubeha/binary/tls-bootstrap.yaml")]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /secret\/bootstrap-token-[a-z0-9]{6} created/);
  assert.match(r.stdout, /clusterrolebinding.rbac.authorization.k8s.io\/kubeadm:kubelet-bootstrap created/);
  // Applied again (a re-run of apply): the stored Secret is found, nothing is created twice.
  const again = runKubectl(["apply", "-f", join(root, "etc/kubeha/binary/tls-bootstrap.yaml")]);
  assert.equal(again.status, 0, again.stderr);
  assert.doesNotMatch(again.stdout, /created/);
  track(spawn("python3", [join(BIN, "kube-controller-manager"), ...cmArgv], { stdio: ["ignore", "ignore", openSync(join(work, "cm.log"), "a")], env: env() }));
});

after(async () => {
  await Promise.all(procs.map((p) => (p.exitCode !== null || p.signalCode !== null ? undefined : new Promise((r) => { p.once("exit", r); p.kill("SIGTERM"); setTimeout(() => p.kill("SIGKILL"), 5000).unref(); }))));
  if (work && !process.env.KUBEHA_KEEP_TEST_DIR) rmSync(work, { recursive: true, force: true });
});

test("bin/kube-apiserver refuses an unknown flag, a missing file and a bad encryption config, with the real texts", () => {
  const run = (argv: string[]) => spawnSync("python3", [join(BIN, "kube-apiserver"), ...argv], { encoding: "utf8", timeout: 30_000, env: env() });
  const unknown = run([...apiserverArgv, "--no-such-flag=1"]);
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /Error: unknown flag: --no-such-flag$/m);
  // Seed 001's v1.8 flag: gone from every recorded minor.
  assert.match(run([...apiserverArgv, "--insecure-bind-address=127.0.0.1"]).stderr, /Error: unknown flag: --insecure-bind-address$/m);
  const missing = run(withFlag(apiserverArgv, "audit-policy-file", "/etc/kubernetes/no-such-policy.yaml"));
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /open \/etc\/kubernetes\/no-such-policy\.yaml: no such file or directory/);
  const enc = (name: string, secret: string, mode: number) => {
    const p = join(root, "etc/kubernetes", name);
    writeFileSync(p, readFileSync(join(root, "etc/kubernetes/encryption-config.yaml"), "utf8").replace(/secret: \S+/, `secret: ${secret}`), { mode });
    chmodSync(p, mode);
    return run(withFlag(apiserverArgv, "encryption-provider-config", `/etc/kubernetes/${name}`));
  };
  const short = enc("enc-short.yaml", Buffer.alloc(16, 1).toString("base64"), 0o600);
  assert.equal(short.status, 1);
  assert.match(short.stderr, /secretbox\.keys\[0\]\.secret: Invalid value: "REDACTED": secret is not of the expected length, got 16, expected one of \[32\]/);
  assert.doesNotMatch(short.stderr, /AQEBAQ/, "the key is never printed");
  const open = enc("enc-open.yaml", Buffer.alloc(32, 1).toString("base64"), 0o644);
  assert.equal(open.status, 1);
  assert.match(open.stderr, /mode 0644 .*must be 0600/);
  const noKey = run(apiserverArgv.filter((a) => !a.startsWith("--service-account-signing-key-file=")));
  assert.match(noKey.stderr, /service-account-signing-key-file is a required flag/);
});

test("TLS bootstrap: a CSR created with the bootstrap token is approved and signed by the controller-manager; the certificate is system:node:node01's", async () => {
  // Created first: every controller pass that sees the good CSR has seen this one too.
  const bad = await call("POST", CSRS, { token }, csrObject(makeCsr("bad", "/O=system:masters/CN=system:node:node01")));
  assert.equal(bad.status, 201, bad.body);
  const created = await call("POST", CSRS, { token }, csrObject(makeCsr("node01", "/O=system:nodes/CN=system:node:node01")));
  assert.equal(created.status, 201, created.body);
  const csr = created.json();
  assert.match(csr.metadata.name, /^node-csr-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  const id = token.split(".")[0];
  assert.equal(csr.spec.username, `system:bootstrap:${id}`, "spec.username is the requester's, filled by the server");
  assert.deepEqual(csr.spec.groups, ["system:authenticated", "system:bootstrappers", "system:bootstrappers:kubeadm:default-node-token"]);
  const t0 = Date.now();
  // As the kubelet waits: a watch on its CSR by name, until an event carries the certificate.
  const watched = await watchUntilCertificate(csr.metadata.name, token, 30);
  console.log(`# CSR approved and signed ${Date.now() - t0} ms after its creation (seen through a watch)`);
  assert.equal(watched.metadata.name, csr.metadata.name);
  const signed = (await call("GET", `${CSRS}/${csr.metadata.name}`, { token })).json();
  assert.equal(signed.status.certificate, watched.status.certificate);
  assert.deepEqual(signed.status.conditions.map((c: { type: string; status: string; reason: string }) => [c.type, c.status, c.reason]), [["Approved", "True", "AutoApproved"]]);
  const cert = new X509Certificate(Buffer.from(signed.status.certificate, "base64"));
  assert.equal(cert.subject, "O=system:nodes\nCN=system:node:node01");
  assert.ok(cert.verify(new X509Certificate(caPem).publicKey), "signed by the cluster CA");
  const days = (Date.parse(cert.validTo) - Date.now()) / 86_400_000;
  assert.ok(days > 360 && days < 367, `valid about a year (--cluster-signing-duration default), got ${days.toFixed(1)} days`);
  const badNow = (await call("GET", `${CSRS}/${bad.json().metadata.name}`, { token })).json();
  assert.deepEqual(badNow.status.conditions ?? [], [], "a CSR whose subject is not O=system:nodes is never approved");
  assert.equal(badNow.status.certificate, undefined);
  // What an operator looks at: the real kubectl finds CSRs through discovery and prints the real columns.
  const list = runKubectl(["get", "csr"]);
  assert.equal(list.status, 0, list.stderr);
  assert.match(list.stdout, /^NAME\s+AGE\s+SIGNERNAME\s+REQUESTOR\s+REQUESTEDDURATION\s+CONDITION/);
  assert.match(list.stdout, new RegExp(`^${csr.metadata.name}\\s+\\S+\\s+kubernetes.io/kube-apiserver-client-kubelet\\s+system:bootstrap:${id}\\s+<none>\\s+Approved,Issued$`, "m"), list.stdout);
  assert.match(list.stdout, new RegExp(`^${bad.json().metadata.name}\\s.*Pending$`, "m"), list.stdout);

  // The issued certificate authenticates as system:node:node01: its own Node, not another's.
  const node = { cert: cert.toString(), key: readFileSync(join(work, "node01.key"), "utf8") };
  const other = await call("POST", "/api/v1/nodes", node, { name: "node02" });
  assert.equal(other.status, 403);
  assert.match(other.json().message, /node "node01" is not allowed to modify node "node02"/);
  assert.equal((await call("POST", "/api/v1/nodes", node, { name: "node01" })).status, 201);
  assert.equal((await call("POST", "/standin/v1/nodes/node01/heartbeat", node, { networkReady: false })).status, 200);
  // The node renews with its own certificate: selfnodeclient.
  const renewal = await call("POST", CSRS, node, csrObject(makeCsr("node01-renew", "/O=system:nodes/CN=system:node:node01"), ["digital signature", "key encipherment", "client auth"]));
  assert.equal(renewal.status, 201, renewal.body);
  assert.equal(renewal.json().spec.username, "system:node:node01");
  const renewed = await until("the renewal CSR signed", 30_000, async () => {
    const o = (await call("GET", `${CSRS}/${renewal.json().metadata.name}`, node)).json();
    return o.status?.certificate ? o : undefined;
  });
  assert.match(renewed.status.conditions[0].message, /self kubelet client certificate/);

  // nodeipam: the first /24 of --cluster-cidr=172.30.0.0/16.
  const cidr = await until("node01 has a podCIDR", 30_000, async () => {
    const o = (await call("GET", "/api/v1/nodes/node01", admin)).json();
    return o.spec?.podCIDR as string | undefined;
  });
  assert.equal(cidr, "172.30.0.0/24");
  const cm = readFileSync(join(work, "cm.log"), "utf8");
  assert.match(cm, /couldn't validate kubelet client csr node-csr-\w+: subject organization is not system:nodes/);
  assert.doesNotMatch(cm + readFileSync(join(work, "apiserver.log"), "utf8"), new RegExp(token.split(".")[1]!), "the token secret is never logged");
});

test("bootstrap tokens from Secrets: expired, wrong secret and an unbound group are refused; a malformed CSR gets the real 422", async () => {
  const pem = makeCsr("refused", "/O=system:nodes/CN=system:node:node02");
  applyToken("exp001", "0123456789abcdef", "2020-01-01T00:00:00Z", "system:bootstrappers:kubeadm:default-node-token");
  const asBootstrap = await call("POST", "/api/v1/nodes", { token }, { name: "node02" });
  assert.equal(asBootstrap.status, 403, "a bootstrap token only asks for a certificate");
  assert.equal(asBootstrap.json().message, `nodes is forbidden: User "system:bootstrap:${token.split(".")[0]}" cannot create resource "nodes" in API group "" at the cluster scope`);
  const expired = await call("POST", CSRS, { token: "exp001.0123456789abcdef" }, csrObject(pem));
  assert.equal(expired.status, 401);
  assert.equal(expired.json().message, "Unauthorized");
  const wrong = await call("POST", CSRS, { token: `${token.split(".")[0]}.ffffffffffffffff` }, csrObject(pem));
  assert.equal(wrong.status, 401);
  const future = new Date(Date.now() + 3600_000).toISOString().replace(/\.\d+Z$/, "Z");
  applyToken("nobind", "0123456789abcdef", future, "system:bootstrappers:other");
  const unbound = await call("POST", CSRS, { token: "nobind.0123456789abcdef" }, csrObject(pem));
  assert.equal(unbound.status, 403);
  assert.equal(unbound.json().message, 'certificatesigningrequests.certificates.k8s.io is forbidden: User "system:bootstrap:nobind" cannot create resource "certificatesigningrequests" in API group "certificates.k8s.io" at the cluster scope');
  const garbage = await call("POST", CSRS, { token }, { ...(csrObject(pem) as object), spec: { signerName: "kubernetes.io/kube-apiserver-client-kubelet", usages: ["client auth"], request: Buffer.from("hello").toString("base64") } });
  assert.equal(garbage.status, 422);
  assert.equal(garbage.json().message, 'CertificateSigningRequest.certificates.k8s.io "" is invalid: spec.request: Invalid value: []byte{0x68, 0x65, 0x6c, 0x6c, 0x6f}: PEM block type must be CERTIFICATE REQUEST');
  const noUsages = await call("POST", CSRS, { token }, { ...(csrObject(pem) as object), spec: { signerName: "kubernetes.io/kube-apiserver-client-kubelet", request: Buffer.from(pem).toString("base64") } });
  assert.equal(noUsages.status, 422);
  assert.match(noUsages.json().message, /spec\.usages: Required value: usages must be provided/);
});
