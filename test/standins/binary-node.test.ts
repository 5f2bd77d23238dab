/**
 * The node side of binary mode ("the hard way") with the stand-ins: the kube-proxy stand-in and the
 * kubelet stand-in started the way kubeha's rendered units start them (--config; --bootstrap-kubeconfig,
 * --config, --kubeconfig, --node-ip, --node-labels).
 * Asserted without an API server: kube-proxy refuses an unknown flag, bad KubeProxyConfigurations
 * (real texts), a missing kubeconfig and one whose CA does not verify the server, and is lenient on
 * unknown fields as the real one; the kubelet refuses a bad KubeletConfiguration, a node-role label
 * (what NodeRestriction forbids a kubelet to set) and a bootstrap kubeconfig whose CA does not verify
 * the server, leaving no key behind.
 * End to end (needs the server side of binary mode: bin/kube-apiserver, the CSR API, bootstrap tokens
 * from Secrets, the controller-manager approving and signing kubelet CSRs, from the binary-server
 * branch): a REAL etcd on loopback, the kube-apiserver and kube-controller-manager stand-ins with the
 * flags kubeha renders; a kubelet with only a bootstrap token gets its client certificate through a
 * CSR, writes its kubeconfig, registers its Node (labels, taints, address) and turns it Ready, and a
 * restart reuses the certificate; kube-proxy with the system:kube-proxy certificate lists Services and
 * EndpointSlices and reports healthy (this last one also needs the API server stand-in to serve
 * discovery.k8s.io/v1 EndpointSlices and to let system:kube-proxy list them and Services, as the
 * system:node-proxier ClusterRole does; the binary-server branch answers 403 so far).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { request as httpRequest } from "node:http";
import { createServer, type Server } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { BIN, apiserverPki, freePort, cleanStaleWorkDirs, recordPid } from "./helpers.ts";

const PREFIX = "kubeha-standins-binary-node-";
const TOKEN_ID = "07401b";
const TOKEN = `${TOKEN_ID}.f395accd246ae52d`;
let work: string;
const procs: ChildProcess[] = [];
const openssl = (args: string[]) => execFileSync("openssl", args, { stdio: "ignore", cwd: work });
const b64 = (f: string) => readFileSync(join(work, f)).toString("base64");

const cleanStale = () => cleanStaleWorkDirs(PREFIX);

function start(argv: string[], env: Record<string, string> = {}): ChildProcess {
  const log = join(work, `${argv[0]!.split("/").pop()}-${procs.length}.log`);
  const p = spawn("python3", argv, { env: { PATH: process.env.PATH!, PYTHONDONTWRITEBYTECODE: "1", KUBEHA_TEST_DIR: work, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  p.stdout!.on("data", (d: Buffer) => writeFileSync(log, d, { flag: "a" }));
  p.stderr!.on("data", (d: Buffer) => writeFileSync(log, d, { flag: "a" }));
  recordPid(work, p.pid);
  procs.push(p);
  return p;
}

function stop(p: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve();
    p.once("exit", () => resolve());
    p.kill("SIGTERM");
    setTimeout(() => p.kill("SIGKILL"), 10_000).unref();
  });
}

function clientCert(name: string, subj: string, ca = "ca"): void {
  openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subj]);
  writeFileSync(join(work, `${name}.ext`), "extendedKeyUsage=clientAuth\n");
  openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.crt`, "-CAkey", `${ca}.key`, "-CAcreateserial", "-out", `${name}.crt`, "-days", "1", "-extfile", `${name}.ext`]);
}

/** A kubeconfig as kubeha writes them: embedded CA, a client certificate or a token. */
function kubeconfig(server: string, caFile: string, user: Record<string, string>): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "kubernetes", cluster: { server, "certificate-authority-data": b64(caFile) } }],
    contexts: [{ name: "c", context: { cluster: "kubernetes", user: "u" } }],
    "current-context": "c",
    users: [{ name: "u", user }],
  });
}
const certUser = (name: string) => ({ "client-certificate-data": b64(`${name}.crt`), "client-key-data": b64(`${name}.key`) });

function write(path: string, text: string, mode = 0o644): string {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, text, { mode });
  return path;
}

/** A TLS server with the apiserver's certificate that answers nothing: for the CA checks. */
async function tlsServer(): Promise<{ server: Server; url: string }> {
  const server = createServer({ key: readFileSync(join(work, "apiserver.key")), cert: readFileSync(join(work, "apiserver.crt")) }, (s) => s.end());
  const port = await new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)));
  return { server, url: `https://127.0.0.1:${port}` };
}

/** Runs a stand-in to its end without blocking the event loop (a TLS server of this process may have to answer). */
function runAsync(bin: string, args: string[], env: Record<string, string> = {}, ms = 30_000): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn("python3", [join(BIN, bin), ...args], { env: { PATH: process.env.PATH!, PYTHONDONTWRITEBYTECODE: "1", ...env } });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill("SIGKILL"), ms);
    p.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

before(() => {
  cleanStale();
  work = mkdtempSync(join(tmpdir(), PREFIX));
  apiserverPki(work);
  clientCert("admin", "/O=system:masters/CN=kubernetes-admin");
  clientCert("proxy", "/CN=system:kube-proxy");
  clientCert("cm", "/CN=system:kube-controller-manager");
  openssl(["genrsa", "-out", "sa.key", "2048"]);
  openssl(["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"]);
});

after(async () => {
  await Promise.all(procs.map(stop));
  if (work) rmSync(work, { recursive: true, force: true });
});

const proxyConfig = (fields: Record<string, unknown>) =>
  stringify({ apiVersion: "kubeproxy.config.k8s.io/v1alpha1", kind: "KubeProxyConfiguration", clientConnection: { kubeconfig: join(work, "proxy.conf") }, clusterCIDR: "172.30.0.0/16", mode: "iptables", ...fields });

test("kube-proxy refuses an unknown flag, bad configurations, a missing kubeconfig and one whose CA does not verify the server", async () => {
  const file = (name: string, text: string) => write(join(work, "kp", name), text);
  const run = (args: string[]) => runAsync("kube-proxy", args);
  const missing = file("missing.yaml", proxyConfig({ clientConnection: { kubeconfig: "/nonexistent/kube-proxy.conf" } }));
  const cases: Array<[string, string[], RegExp]> = [
    ["unknown flag", ["--masquerade-everything"], /^\[stand-in kube-proxy\] Error: unknown flag: --masquerade-everything$/m],
    ["unknown flag beside --config", [`--config=${missing}`, "--iptables-sync-period=1s"], /Error: unknown flag: --iptables-sync-period$/m],
    ["wrong apiVersion", [`--config=${file("v1beta1.yaml", proxyConfig({ apiVersion: "kubeproxy.config.k8s.io/v1beta1" }))}`],
      /failed complete: failed to decode: no kind "KubeProxyConfiguration" is registered for version "kubeproxy\.config\.k8s\.io\/v1beta1"/],
    ["wrongly typed field", [`--config=${file("type.yaml", proxyConfig({ clusterCIDR: 16 }))}`],
      /failed to decode: json: cannot unmarshal number into Go struct field KubeProxyConfiguration\.clusterCIDR of type string/],
    ["mode", [`--config=${file("mode.yaml", proxyConfig({ mode: "userspace" }))}`],
      /failed validate: KubeProxyConfiguration\.Mode\.ProxyMode: Invalid value: "userspace": must be iptables, ipvs, nftables or blank \(blank means the best-available proxy \[currently iptables\]\)/],
    ["clusterCIDR", [`--config=${file("cidr.yaml", proxyConfig({ clusterCIDR: "172.30.0.0" }))}`],
      /failed validate: KubeProxyConfiguration\.DetectLocalConfiguration\.ClusterCIDRs\[0\]: Invalid value: "172\.30\.0\.0": must be a valid CIDR block/],
    ["healthzBindAddress", [`--config=${file("healthz.yaml", proxyConfig({ healthzBindAddress: "10256" }))}`],
      /KubeProxyConfiguration\.HealthzBindAddress: Invalid value: "10256": must be IP:port/],
    ["missing kubeconfig", [`--config=${missing}`], /"Error running ProxyServer" err="stat \/nonexistent\/kube-proxy\.conf: no such file or directory"/],
    ["missing config file", ["--config=/nonexistent/config.yaml"], /failed complete: open \/nonexistent\/config\.yaml: no such file or directory/],
  ];
  for (const [name, args, want] of cases) {
    const r = await run(args);
    assert.equal(r.status, 1, `${name}: exit status (${r.stderr})`);
    assert.match(r.stderr, want, name);
    for (const line of r.stderr.trim().split("\n")) assert.match(line, /^\[stand-in kube-proxy\] /, `${name}: ${line}`);
  }
  // Unknown fields: the real v1alpha1 decoder falls back to lenient decoding and logs it; the run goes on (to the missing kubeconfig).
  const lenient = await run([`--config=${file("lenient.yaml", proxyConfig({ clientConnection: { kubeconfig: "/nonexistent/kube-proxy.conf" }, udpIdleTimeout: "250ms" }))}`]);
  assert.match(lenient.stdout, /"Using lenient decoding as strict decoding failed" err="strict decoding error: unknown field \\"udpIdleTimeout\\""/);
  assert.match(lenient.stderr, /stat \/nonexistent\/kube-proxy\.conf: no such file or directory/);

  const { server, url } = await tlsServer();
  try {
    write(join(work, "foreign-proxy.conf"), kubeconfig(url, "other-ca.crt", certUser("proxy")), 0o600);
    const hz = await freePort();
    const r = await run([`--config=${file("foreign.yaml", proxyConfig({ clientConnection: { kubeconfig: join(work, "foreign-proxy.conf") }, healthzBindAddress: `127.0.0.1:${hz}` }))}`]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /tls: failed to verify certificate: x509: certificate signed by unknown authority \(the kubeconfig's CA does not verify the API server\)/);
  } finally {
    server.close();
  }
});

test("kubelet refuses a bad KubeletConfiguration, a node-role label and a bootstrap kubeconfig whose CA does not verify the server", async () => {
  const root = join(work, "kubelet-refusals");
  const config = (fields: Record<string, unknown>) =>
    write(join(root, "var/lib/kubelet/config.yaml"), stringify({ apiVersion: "kubelet.config.k8s.io/v1beta1", kind: "KubeletConfiguration", healthzPort: 0, ...fields }));
  const flags = ["--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf", "--config=/var/lib/kubelet/config.yaml", "--kubeconfig=/etc/kubernetes/kubelet.conf", "--node-ip=127.0.0.1", "--hostname-override=node01"];
  const env = { KUBEADM_STANDIN_ROOT: root, KUBEADM_STANDIN_NO_SYSTEMD: "1" };
  const run = (extra: string[] = []) => runAsync("kubelet", [...flags, ...extra], env);
  const cases: Array<[string, () => void, string[], RegExp]> = [
    ["wrong apiVersion", () => config({ apiVersion: "kubelet.config.k8s.io/v1" }), [],
      /failed to load kubelet config file, path: \/var\/lib\/kubelet\/config\.yaml, error: failed to load Kubelet config file \/var\/lib\/kubelet\/config\.yaml, error failed to decode: no kind "KubeletConfiguration" is registered for version "kubelet\.config\.k8s\.io\/v1"/],
    ["wrongly typed field", () => config({ rotateCertificates: "always" }), [],
      /failed to decode: json: cannot unmarshal string into Go struct field KubeletConfiguration\.rotateCertificates of type bool/],
    ["node-role label", () => config({}), ["--node-labels=disk=ssd,node-role.kubernetes.io/worker="],
      /failed to validate kubelet flags: unknown 'kubernetes\.io' or 'k8s\.io' labels specified with --node-labels: \[node-role\.kubernetes\.io\/worker\]\n.*--node-labels in the 'kubernetes\.io' namespace must begin with an allowed prefix \(kubelet\.kubernetes\.io, node\.kubernetes\.io\)/],
    ["no kubeconfig and no bootstrap kubeconfig", () => config({ rotateCertificate: true }), [], /unable to load kubeconfig '\/etc\/kubernetes\/kubelet\.conf': no such file/],
  ];
  for (const [name, setup, extra, want] of cases) {
    setup();
    const r = await run(extra);
    assert.equal(r.status, 1, `${name}: exit status (${r.stderr})`);
    assert.match(r.stderr, want, name);
  }
  // The last case had an unknown field: logged as the real lenient v1beta1 decoding does, not refused.
  const lenient = await run();
  assert.match(lenient.stdout, /"Using lenient decoding as strict decoding failed" err="strict decoding error: unknown field \\"rotateCertificate\\""/);

  const { server, url } = await tlsServer();
  try {
    config({});
    write(join(root, "etc/kubernetes/bootstrap-kubelet.conf"), kubeconfig(url, "other-ca.crt", { token: TOKEN }), 0o600);
    const r = await run();
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /failed to run Kubelet: Post "https:\/\/127\.0\.0\.1:\d+\/apis\/certificates\.k8s\.io\/v1\/certificatesigningrequests": tls: failed to verify certificate: x509: certificate signed by unknown authority/);
    assert.ok(!r.stdout.includes(TOKEN) && !r.stderr.includes(TOKEN), "the token must not be printed");
    assert.ok(!existsSync(join(root, "var/lib/kubelet/pki")), "no key left behind");
    assert.ok(!existsSync(join(root, "etc/kubernetes/kubelet.conf")), "no kubeconfig written");
  } finally {
    server.close();
  }
});

// --- end to end: needs the binary-server branch --------------------------------------------------

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function call(port: number, method: string, path: string, cert: string, body?: unknown): Promise<{ status: number; body: Json; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: "127.0.0.1", port, path, method, ca: readFileSync(join(work, "ca.crt")), cert: readFileSync(join(work, `${cert}.crt`)), key: readFileSync(join(work, `${cert}.key`)), timeout: 5000,
      headers: body ? { "Content-Type": "application/json" } : {} }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () => {
        let parsed: Json = {};
        try {
          parsed = JSON.parse(text) as Json;
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, text });
      });
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

function httpGet(port: number, path: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, path, timeout: 3000 }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

async function until(what: string, ms: number, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await Promise.resolve().then(check).catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail(`${what} not reached within ${ms} ms (logs in ${work})`);
}

let apiPort = 0;
const NODE_ROOT = () => join(work, "node01");
const KUBELET_FLAGS = ["--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf", "--config=/var/lib/kubelet/config.yaml", "--kubeconfig=/etc/kubernetes/kubelet.conf", "--node-ip=127.0.0.1", "--node-labels=disk=ssd", "--hostname-override=node01"];

/** etcd, kube-apiserver and kube-controller-manager as binary mode runs them; the bootstrap token as the Secret kubeha applies. */
async function controlPlane(): Promise<void> {
  if (apiPort) return;
  assert.ok(existsSync(join(BIN, "kube-apiserver")), "bin/kube-apiserver is missing: the end-to-end tests need the server side of binary mode (the binary-server branch)");
  const etcdPort = await freePort();
  const peer = await freePort();
  const etcd = spawn("etcd", ["--name", "binary-node-test", "--data-dir", join(work, "etcd"),
    "--listen-client-urls", `http://127.0.0.1:${etcdPort}`, "--advertise-client-urls", `http://127.0.0.1:${etcdPort}`,
    "--listen-peer-urls", `http://127.0.0.1:${peer}`, "--initial-advertise-peer-urls", `http://127.0.0.1:${peer}`,
    "--initial-cluster", `binary-node-test=http://127.0.0.1:${peer}`], { stdio: "ignore" });
  recordPid(work, etcd.pid);
  procs.push(etcd);
  apiPort = await freePort();
  const f = (n: string) => join(work, n);
  start([join(BIN, "kube-apiserver"), "--advertise-address=127.0.0.1", "--bind-address=127.0.0.1", `--secure-port=${apiPort}`, "--allow-privileged=true",
    "--authorization-mode=Node,RBAC", `--client-ca-file=${f("ca.crt")}`, "--enable-admission-plugins=NodeRestriction", "--enable-bootstrap-token-auth=true",
    `--etcd-servers=http://127.0.0.1:${etcdPort}`, "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    `--service-account-key-file=${f("sa.pub")}`, `--service-account-signing-key-file=${f("sa.key")}`, "--service-cluster-ip-range=10.254.0.0/16",
    `--tls-cert-file=${f("apiserver.crt")}`, `--tls-private-key-file=${f("apiserver.key")}`]);
  await until("kube-apiserver ready", 30_000, async () => (await call(apiPort, "GET", "/readyz", "admin")).status === 200);
  const server = `https://127.0.0.1:${apiPort}`;
  write(f("cm.conf"), kubeconfig(server, "ca.crt", certUser("cm")), 0o600);
  write(f("proxy.conf"), kubeconfig(server, "ca.crt", certUser("proxy")), 0o600);
  start([join(BIN, "kube-controller-manager"), `--kubeconfig=${f("cm.conf")}`, `--authentication-kubeconfig=${f("cm.conf")}`, `--authorization-kubeconfig=${f("cm.conf")}`,
    "--bind-address=127.0.0.1", "--secure-port=0", `--client-ca-file=${f("ca.crt")}`, `--cluster-signing-cert-file=${f("ca.crt")}`, `--cluster-signing-key-file=${f("ca.key")}`,
    "--controllers=*,bootstrapsigner,tokencleaner", "--leader-elect=true", `--root-ca-file=${f("ca.crt")}`, `--service-account-private-key-file=${f("sa.key")}`,
    "--service-cluster-ip-range=10.254.0.0/16", "--use-service-account-credentials=true"]);
  const expiration = new Date(Date.now() + 3600_000).toISOString().replace(/\.\d+Z$/, "Z");
  const secret = await call(apiPort, "POST", "/api/v1/namespaces/kube-system/secrets", "admin", {
    apiVersion: "v1", kind: "Secret", type: "bootstrap.kubernetes.io/token",
    metadata: { name: `bootstrap-token-${TOKEN_ID}`, namespace: "kube-system" },
    stringData: { "token-id": TOKEN_ID, "token-secret": TOKEN.split(".")[1], expiration, "usage-bootstrap-authentication": "true", "usage-bootstrap-signing": "true", "auth-extra-groups": "system:bootstrappers:kubeadm:default-node-token" },
  });
  assert.equal(secret.status, 201, secret.text);
  // The two bindings of kubeha's tls-bootstrap.yaml the client certificate needs: create the CSR, and have it auto-approved.
  for (const [name, role] of [["kubeadm:kubelet-bootstrap", "system:node-bootstrapper"], ["kubeadm:node-autoapprove-bootstrap", "system:certificates.k8s.io:certificatesigningrequests:nodeclient"]] as const) {
    const r = await call(apiPort, "POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", "admin", {
      apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding", metadata: { name },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: "system:bootstrappers:kubeadm:default-node-token" }],
    });
    assert.equal(r.status, 201, r.text);
  }
}

async function startKubelet(): Promise<ChildProcess> {
  return start([join(BIN, "kubelet"), ...KUBELET_FLAGS], { KUBEADM_STANDIN_ROOT: NODE_ROOT(), KUBEADM_STANDIN_NO_SYSTEMD: "1" });
}

test("TLS bootstrap end to end: CSR approved and signed, kubeconfig on kubelet-client-current.pem, Node registered and Ready, a restart reuses the certificate [needs the binary-server branch]", async () => {
  await controlPlane();
  const root = NODE_ROOT();
  write(join(root, "etc/kubernetes/bootstrap-kubelet.conf"), kubeconfig(`https://127.0.0.1:${apiPort}`, "ca.crt", { token: TOKEN }), 0o600);
  write(join(root, "var/lib/kubelet/config.yaml"), stringify({
    apiVersion: "kubelet.config.k8s.io/v1beta1", kind: "KubeletConfiguration",
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: "/etc/kubernetes/pki/ca.crt" } },
    authorization: { mode: "Webhook" }, cgroupDriver: "systemd", clusterDNS: ["10.254.0.10"], clusterDomain: "cluster.local",
    containerRuntimeEndpoint: "unix:///run/containerd/containerd.sock", healthzPort: 0,
    registerWithTaints: [{ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }], rotateCertificates: true,
  }));
  write(join(root, "etc/cni/net.d/10-test.conflist"), JSON.stringify({ name: "test", cniVersion: "0.3.1", plugins: [{ type: "bridge" }] }));
  let kubelet = await startKubelet();
  const kubeconfigPath = join(root, "etc/kubernetes/kubelet.conf");
  await until("the kubelet's kubeconfig after TLS bootstrap", 60_000, () => existsSync(kubeconfigPath));

  const pki = join(root, "var/lib/kubelet/pki");
  const current = join(pki, "kubelet-client-current.pem");
  assert.ok(lstatSync(current).isSymbolicLink());
  const target = readlinkSync(current);
  assert.match(target, /^kubelet-client-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}\.pem$/);
  assert.equal(statSync(join(pki, target)).mode & 0o777, 0o600);
  assert.equal(statSync(kubeconfigPath).mode & 0o777, 0o600);
  const pem = readFileSync(current, "utf8");
  assert.match(pem, /-----BEGIN CERTIFICATE-----[\s\S]*PRIVATE KEY-----/);
  const subject = execFileSync("openssl", ["x509", "-noout", "-subject", "-nameopt", "RFC2253", "-in", current], { encoding: "utf8" });
  assert.match(subject, /CN=system:node:node01/);
  assert.match(subject, /O=system:nodes/);
  assert.equal(spawnSync("openssl", ["verify", "-CAfile", join(work, "ca.crt"), current]).status, 0, "the certificate is signed by the cluster CA");
  const kc = readFileSync(kubeconfigPath, "utf8");
  assert.match(kc, /client-certificate: \/var\/lib\/kubelet\/pki\/kubelet-client-current\.pem/);
  assert.ok(!kc.includes(TOKEN), "the kubelet's kubeconfig holds no bootstrap token");

  const csrs = await call(apiPort, "GET", "/apis/certificates.k8s.io/v1/certificatesigningrequests", "admin");
  assert.equal(csrs.status, 200, csrs.text);
  assert.equal(csrs.body.items.length, 1);
  const csr = csrs.body.items[0];
  assert.match(csr.metadata.name, /^node-csr-/);
  assert.equal(csr.spec.signerName, "kubernetes.io/kube-apiserver-client-kubelet");
  assert.deepEqual(csr.spec.usages, ["digital signature", "client auth"]);
  assert.ok(csr.status.conditions.some((c: Json) => c.type === "Approved" && c.status === "True"));

  await until("Node node01 Ready", 30_000, async () => {
    const n = await call(apiPort, "GET", "/api/v1/nodes/node01", "admin");
    return n.status === 200 && n.body.status.conditions.some((c: Json) => c.type === "Ready" && c.status === "True");
  });
  const n = (await call(apiPort, "GET", "/api/v1/nodes/node01", "admin")).body;
  assert.equal(n.metadata.labels["disk"], "ssd");
  assert.equal(n.metadata.labels["kubernetes.io/hostname"], "node01");
  assert.deepEqual(n.spec.taints.map((t: Json) => `${t.key}:${t.effect}`), ["node-role.kubernetes.io/control-plane:NoSchedule"]);
  assert.deepEqual(n.status.addresses, [{ type: "InternalIP", address: "127.0.0.1" }]);

  // A restart finds its kubeconfig: no second CSR, the same certificate.
  await stop(kubelet);
  kubelet = await startKubelet();
  const log = () => readdirSync(work).filter((f) => f.startsWith("kubelet-") && f.endsWith(".log")).map((f) => readFileSync(join(work, f), "utf8")).join("");
  await until("the restarted kubelet heartbeats", 20_000, () => (log().match(/heartbeats to/g) ?? []).length >= 2);
  assert.equal(readlinkSync(current), target);
  assert.equal((await call(apiPort, "GET", "/apis/certificates.k8s.io/v1/certificatesigningrequests", "admin")).body.items.length, 1);
  assert.ok(!log().includes(TOKEN), "the token never appears in the kubelet's output");
  await stop(kubelet);
});

test("kube-proxy as system:kube-proxy lists Services and EndpointSlices and reports healthy; /livez too [needs the server side to serve EndpointSlices and let system:kube-proxy list them]", async () => {
  await controlPlane();
  const port = await freePort();
  const config = write(join(work, "kp-e2e.yaml"), proxyConfig({ healthzBindAddress: `127.0.0.1:${port}`, hostnameOverride: "node01", iptables: { syncPeriod: "1s" } }));
  const proxy = start([join(BIN, "kube-proxy"), `--config=${config}`]);
  await until("kube-proxy /healthz 200", 20_000, async () => (await httpGet(port, "/healthz")).status === 200);
  const h = JSON.parse((await httpGet(port, "/healthz")).text) as Json;
  assert.ok(h.lastUpdated && h.currentTime);
  assert.equal((await httpGet(port, "/livez")).status, 200);
  await stop(proxy);
});
