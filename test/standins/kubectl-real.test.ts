/**
 * The real kubectl (the operator machine's static clients, oldest and newest minor) and the kubectl
 * stand-in against the kube-apiserver stand-in on loopback, for every kubectl command kubeha runs:
 * apply of the rendered flannel and calico manifests, `rollout status`, `wait` for nodes Ready and
 * CRDs established, `get nodes`, cordon. The stand-in refuses what a real server refuses, with the
 * real texts: a ConfigMap in a missing namespace, an unknown kind, a malformed DaemonSet, an unknown
 * field. A kubelet stand-in keeps its node NotReady until it has played flannel's install-cni step.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, openSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { BIN } from "./helpers.ts";
import { REPO, clustersUnderTest } from "../render/helpers.ts";
import { renderCni, FLANNEL } from "../../src/render/cni.ts";
import { PATHS } from "../../src/render/paths.ts";
import { firstControlPlane } from "../../src/spec/model.ts";
import { findRealKubectl, shipRealKubectl, REAL_KUBECTL_DIR } from "../../src/lab/kubectl.ts";
import { cpSync, statSync } from "node:fs";
import { freePort } from "../helpers/net.ts";

let work: string;
let port: number;
let caPem: string;
let adminToken: string;
/** HOME of the kubectl runs: real kubectl caches discovery per server address there, and each test's server is new. */
let home: string;
const procs: ChildProcess[] = [];

const flannelCluster = clustersUnderTest().find((x) => x.name === "seed-004-dedicated-lbs-8443")!.cluster;
const calicoCluster = clustersUnderTest().find((x) => x.name === "seed-002-colocated-16443")!.cluster;

function call(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request(`https://127.0.0.1:${port}${path}`, { method, ca: caPem, agent: false, timeout: 5000, headers: { Authorization: `Bearer ${token}`, ...(data ? { "Content-Type": "application/json", "Content-Length": String(Buffer.byteLength(data)) } : {}) } }, (res) => {
      let out = "";
      res.on("data", (c: Buffer) => (out += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: out }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end(data);
  });
}

/** A fresh apiserver stand-in (own store) on `port`; stops the previous one. */
async function startApiserver(store: string): Promise<void> {
  // The previous server must be gone (it drains for a moment after SIGTERM) before the port is reused.
  await Promise.all(procs.splice(0).map((p) => (p.exitCode !== null || p.signalCode !== null ? undefined : new Promise((r) => { p.once("exit", r); p.kill("SIGTERM"); }))));
  const p = spawn("python3", [join(BIN, "kube-apiserver-standin"), "--advertise-address", "127.0.0.1", "--secure-port", String(port),
    "--tls-cert-file", join(work, "s.crt"), "--tls-private-key-file", join(work, "s.key"), "--client-ca-file", join(work, "ca.crt"),
    "--standin-ca-key-file", join(work, "ca.key"), "--standin-store-file", join(work, store), "--standin-node-name", "cp1"],
  { stdio: ["ignore", "ignore", openSync(join(work, `${store}.log`), "a")], env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" } });
  procs.push(p);
  home = join(work, `home-${store}`);
  mkdirSync(home, { recursive: true });
  for (let i = 0; i < 50; i++) {
    if (await call("GET", "/readyz", adminToken).then((r) => r.status === 200, () => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the apiserver stand-in did not come up");
}

interface Client {
  name: string;
  run(args: string[], timeoutMs?: number): { code: number; out: string; err: string };
}

function client(name: string, argv0: string[]): Client {
  return {
    name,
    run(args, timeoutMs = 30_000) {
      const r = spawnSync(argv0[0]!, [...argv0.slice(1), "--kubeconfig", join(work, "admin.conf"), ...args], { encoding: "utf8", timeout: timeoutMs, env: { ...process.env, HOME: home, PYTHONDONTWRITEBYTECODE: "1" } });
      return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
    },
  };
}

const clients: Client[] = [];

before(async () => {
  work = mkdtempSync(join(tmpdir(), "kubeha-kubectl-real-"));
  port = await freePort();
  const o = (args: string[]) => execFileSync("openssl", args, { stdio: "ignore", cwd: work });
  o(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=kubernetes"]);
  o(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "s.key", "-out", "s.csr", "-subj", "/CN=kube-apiserver"]);
  writeFileSync(join(work, "ext"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  o(["x509", "-req", "-in", "s.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "s.crt", "-days", "1", "-extfile", "ext"]);
  caPem = readFileSync(join(work, "ca.crt"), "utf8");
  adminToken = execFileSync("python3", ["-c", "import sys, standin_common as c; print(c.admin_token(open(sys.argv[1], 'rb').read()))", join(work, "ca.key")], { encoding: "utf8", env: { ...process.env, PYTHONPATH: join(BIN, "..", "lib"), PYTHONDONTWRITEBYTECODE: "1" } }).trim();
  const kubeconfig = (token: string) => stringify({ apiVersion: "v1", kind: "Config", clusters: [{ name: "c", cluster: { server: `https://127.0.0.1:${port}`, "certificate-authority-data": Buffer.from(caPem).toString("base64") } }], contexts: [{ name: "c", context: { cluster: "c", user: "u" } }], "current-context": "c", users: [{ name: "u", user: { token } }] });
  writeFileSync(join(work, "admin.conf"), kubeconfig(adminToken), { mode: 0o600 });
  const oldest = await findRealKubectl(27);
  const newest = await findRealKubectl(34);
  assert.ok(oldest && newest, `this machine has no real kubectl in ${REAL_KUBECTL_DIR} (the project's machines do)`);
  clients.push(client(`real kubectl ${oldest.version}`, [oldest.path]), client(`real kubectl ${newest.version}`, [newest.path]), client("kubectl stand-in", ["python3", join(BIN, "kubectl")]));
});

after(() => {
  for (const p of procs) p.kill("SIGTERM");
  if (work && !process.env.KUBEHA_KEEP_TEST_DIR) rmSync(work, { recursive: true, force: true });
});

function manifest(c: typeof flannelCluster, path: string): string {
  const f = renderCni(c, firstControlPlane(c)).find((x) => x.path === path)!;
  const local = join(work, path.split("/").pop()!);
  writeFileSync(local, f.content);
  return local;
}

test("findRealKubectl picks the newest minor not above the bundle's, and none below 1.27", async () => {
  assert.equal((await findRealKubectl(34))?.version.slice(0, 6), "v1.33.");
  assert.equal((await findRealKubectl(30))?.version.slice(0, 6), "v1.30.");
  assert.equal(await findRealKubectl(26), undefined);
  assert.equal(await findRealKubectl(34, join(REPO, "test")), undefined);
});

test("shipRealKubectl: the bundle's kubectl becomes the real one and the manifest says so; a bundle without kubectl is left alone", async () => {
  const dir = join(work, "bundle-copy");
  cpSync(join(BIN, ".."), dir, { recursive: true });
  const real = (await findRealKubectl(34))!;
  assert.equal(await shipRealKubectl(dir, real), true);
  const m = JSON.parse(readFileSync(join(dir, "kubeha-bundle.json"), "utf8")) as { files: Array<{ src: string; dest: string }>; real: Record<string, string>; description: string };
  const entry = m.files.find((f) => f.dest === "/usr/bin/kubectl")!;
  assert.equal(entry.src, "bin/kubectl-real");
  assert.ok(statSync(join(dir, entry.src)).mode & 0o100);
  assert.equal(statSync(join(dir, entry.src)).size, statSync(real.path).size);
  assert.ok(!existsSync(join(dir, "bin/kubectl")), "the stand-in is not shipped beside it");
  assert.deepEqual(Object.keys(m.real), ["/usr/bin/kubectl"]);
  assert.match(m.real["/usr/bin/kubectl"]!, new RegExp(`^kubectl ${real.version.replaceAll(".", "\\.")} \\(real`));
  assert.match(m.description, /STAND-INS.*kubectl is REAL/);
  // Every other file stays a stand-in.
  assert.ok(m.files.filter((f) => f !== entry).every((f) => readFileSync(join(dir, f.src), "utf8").includes("stand-in") || readFileSync(join(dir, f.src), "utf8").includes("STAND-IN")));
  const none = join(work, "bundle-none");
  mkdirSync(none);
  const text = JSON.stringify({ kubernetesVersion: "1.34.2", files: [] });
  writeFileSync(join(none, "kubeha-bundle.json"), text);
  assert.equal(await shipRealKubectl(none, real), false);
  assert.equal(readFileSync(join(none, "kubeha-bundle.json"), "utf8"), text);
});

test("each kubectl: refusals with the real server's texts (missing namespace, unknown kind, invalid, unknown field)", async (t) => {
  for (const k of clients) {
    await t.test(k.name, async () => {
      await startApiserver(`refusals-${k.name.replace(/\W+/g, "-")}.json`);
      // The ConfigMap alone, as the old cni phase applied it: the namespace does not exist.
      const cm = join(work, "cm-only.yaml");
      writeFileSync(cm, readFileSync(manifest(flannelCluster, PATHS.flannelManifest), "utf8").split("---\n").find((d) => d.includes("kind: ConfigMap"))!);
      let r = k.run(["apply", "-f", cm]);
      assert.equal(r.code, 1, r.out + r.err);
      assert.match(r.err, new RegExp(`Error from server.*: error when creating "${cm}": namespaces "${FLANNEL.namespace}" not found`));

      writeFileSync(join(work, "foo.yaml"), "apiVersion: foo.example.com/v1\nkind: Foo\nmetadata:\n  name: x\n");
      r = k.run(["apply", "-f", join(work, "foo.yaml")]);
      assert.equal(r.code, 1);
      assert.match(r.err, /no matches for kind "Foo" in version "foo\.example\.com\/v1"/);
      r = k.run(["get", "--raw", "/apis/foo.example.com/v1/foos"]);
      assert.equal(r.code, 1);
      assert.match(r.err, /the server could not find the requested resource/);

      const bad = { apiVersion: "apps/v1", kind: "DaemonSet", metadata: { name: "bad", namespace: "default" }, spec: { selector: { matchLabels: { a: "b" } }, template: { metadata: { labels: { a: "c" } }, spec: { containers: [{ image: "x" }] } } } };
      writeFileSync(join(work, "bad.yaml"), stringify(bad));
      r = k.run(["apply", "-f", join(work, "bad.yaml")]);
      assert.equal(r.code, 1);
      assert.match(r.err, /DaemonSet.* "bad" is invalid/);
      assert.match(r.err, /spec\.template\.spec\.containers\[0\]\.name: Required value/);
      assert.match(r.err, /`selector` does not match template `labels`/);

      writeFileSync(join(work, "unk.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n  namespace: default\nbogus: 1\n");
      r = k.run(["apply", "-f", join(work, "unk.yaml")]);
      assert.equal(r.code, 1);
      assert.match(r.err, /strict decoding error: unknown field "bogus"/);
    });
  }
});

test("each kubectl: flannel applies namespace first, re-applies unchanged; NotReady until the kubelet stand-in played install-cni; rollout and wait complete", async (t) => {
  for (const k of clients) {
    await t.test(k.name, async () => {
      await startApiserver(`flannel-${k.name.replace(/\W+/g, "-")}.json`);
      // A node registered as kubeadm's stand-in does, with its own credential, and a kubelet stand-in for it.
      const reg = await call("POST", "/api/v1/nodes", adminToken, { name: "cp1", taints: [{ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }], addresses: [{ type: "InternalIP", address: "127.0.0.1" }] });
      const nodeToken = (JSON.parse(reg.body) as { nodeToken: string }).nodeToken;
      const root = join(work, `root-${k.name.replace(/\W+/g, "-")}`);
      mkdirSync(join(root, "etc/kubernetes"), { recursive: true });
      mkdirSync(join(root, "var/lib/kubelet"), { recursive: true });
      writeFileSync(join(root, "var/lib/kubelet/config.yaml"), "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nhealthzPort: 0\n");
      writeFileSync(join(root, "etc/kubernetes/kubelet.conf"), readFileSync(join(work, "admin.conf"), "utf8").replace(adminToken, nodeToken));
      const kubelet = spawn("python3", [join(BIN, "kubelet"), "--config", "/var/lib/kubelet/config.yaml", "--kubeconfig", "/etc/kubernetes/kubelet.conf", "--hostname-override", "cp1"],
        { stdio: "ignore", env: { ...process.env, KUBEADM_STANDIN_ROOT: root, KUBEADM_STANDIN_NO_SYSTEMD: "1", PYTHONDONTWRITEBYTECODE: "1" } });
      procs.push(kubelet);
      try {
        let r = k.run(["wait", "--for=condition=Ready", "node", "--all", "--timeout=7s"]);
        assert.notEqual(r.code, 0, "Ready without any CNI configuration");
        r = k.run(["get", "nodes", "-o", "json"]);
        const cond = (JSON.parse(r.out) as { items: Array<{ status: { conditions: Array<{ type: string; status: string; reason: string; message: string }> } }> }).items[0]!.status.conditions.find((c) => c.type === "Ready")!;
        assert.equal(cond.status, "False");
        assert.equal(cond.reason, "KubeletNotReady");
        assert.match(cond.message, /container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized/);
        if (k.name.startsWith("real")) assert.match(k.run(["get", "nodes"]).out, /^cp1\s+NotReady\s/m);

        const f = manifest(flannelCluster, PATHS.flannelManifest);
        r = k.run(["apply", "-f", f]);
        assert.equal(r.code, 0, r.err);
        assert.deepEqual(r.out.trim().split("\n").map((l) => l.split(" ")[0]), ["namespace/kube-flannel", "serviceaccount/flannel", "clusterrole.rbac.authorization.k8s.io/flannel", "clusterrolebinding.rbac.authorization.k8s.io/flannel", "configmap/kube-flannel-cfg", "daemonset.apps/kube-flannel-ds"]);
        assert.ok(r.out.trim().split("\n").every((l) => l.endsWith(" created")), r.out);
        if (k.name.startsWith("real")) {
          r = k.run(["apply", "-f", f]);
          assert.ok(r.out.trim().split("\n").every((l) => l.endsWith(" unchanged")), r.out);
        }
        // Stored under the real REST paths.
        for (const p of ["/api/v1/namespaces/kube-flannel", "/api/v1/namespaces/kube-flannel/configmaps/kube-flannel-cfg", "/apis/apps/v1/namespaces/kube-flannel/daemonsets/kube-flannel-ds", "/apis/rbac.authorization.k8s.io/v1/clusterroles/flannel"])
          assert.equal((await call("GET", p, adminToken)).status, 200, p);

        r = k.run(["-n", FLANNEL.namespace, "rollout", "status", `ds/${FLANNEL.daemonSet}`, "--timeout=30s"], 40_000);
        assert.equal(r.code, 0, r.out + r.err);
        assert.match(r.out, /daemon set "kube-flannel-ds" successfully rolled out/);
        r = k.run(["wait", "--for=condition=Ready", "node", "--all", "--timeout=30s"], 40_000);
        assert.equal(r.code, 0, r.out + r.err);
        const conflist = join(root, PATHS.cniNetDir, FLANNEL.conflist);
        assert.ok(existsSync(conflist));
        assert.equal(JSON.parse(readFileSync(conflist, "utf8")).plugins[0].type, "flannel");
        if (k.name.startsWith("real")) {
          assert.match(k.run(["get", "nodes"]).out, /^cp1\s+Ready\s/m);
          assert.equal(k.run(["cordon", "cp1"]).code, 0);
          assert.match(k.run(["get", "nodes"]).out, /^cp1\s+Ready,SchedulingDisabled\s/m);
          assert.equal(k.run(["uncordon", "cp1"]).code, 0);
        }
      } finally {
        kubelet.kill("SIGTERM");
      }
    });
  }
});

test("each kubectl: calico's operator manifest, the CRDs established, then the Installation", async (t) => {
  for (const k of clients) {
    await t.test(k.name, async () => {
      await startApiserver(`calico-${k.name.replace(/\W+/g, "-")}.json`);
      const inst = manifest(calicoCluster, PATHS.calicoInstallation);
      let r = k.run(["apply", "-f", inst]);
      assert.equal(r.code, 1, "the Installation before its CRD");
      assert.match(r.err, /no matches for kind "Installation" in version "operator\.tigera\.io\/v1"/);
      r = k.run(["apply", "-f", manifest(calicoCluster, PATHS.calicoOperator)]);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /^namespace\/tigera-operator created$/m);
      assert.match(r.out, /^customresourcedefinition\.apiextensions\.k8s\.io\/installations\.operator\.tigera\.io created$/m);
      assert.match(r.out, /^deployment\.apps\/tigera-operator created$/m);
      r = k.run(["wait", "--for=condition=established", "--timeout=20s", "crd/installations.operator.tigera.io", "crd/apiservers.operator.tigera.io"]);
      assert.equal(r.code, 0, r.out + r.err);
      r = k.run(["apply", "-f", inst]);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /installation\.operator\.tigera\.io\/default created/);
      const got = JSON.parse((await call("GET", "/apis/operator.tigera.io/v1/installations/default", adminToken)).body) as { spec: { calicoNetwork: { ipPools: Array<{ cidr: string }> } } };
      assert.equal(got.spec.calicoNetwork.ipPools[0]!.cidr, calicoCluster.kubernetes.podSubnet);
    });
  }
});

test("real kubectl drain (what `kubeha node remove` runs): cordons, lists the node's pods by spec.nodeName, deletes them (no eviction API: kubectl falls back to delete), then delete node", async (t) => {
  for (const k of clients.filter((c) => c.name.startsWith("real"))) {
    await t.test(k.name, async () => {
      await startApiserver(`drain-${k.name.replace(/\W+/g, "-")}.json`);
      for (const name of ["w1", "w2"]) assert.equal((await call("POST", "/api/v1/nodes", adminToken, { name, addresses: [{ type: "InternalIP", address: "127.0.0.1" }] })).status, 201);
      const pod = (name: string, node: string) => ({ apiVersion: "v1", kind: "Pod", metadata: { name, namespace: "default" }, spec: { nodeName: node, containers: [{ name: "c", image: "registry.example/x:1" }] } });
      for (const [p, n] of [["on-w1", "w1"], ["on-w2", "w2"]] as const) {
        const r = await call("POST", "/api/v1/namespaces/default/pods", adminToken, pod(p, n));
        assert.equal(r.status, 201, r.body);
      }
      let r = k.run(["get", "pods", "-A", "--field-selector", "spec.nodeName=w1", "-o", "name"]);
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out.trim(), "pod/on-w1");
      r = k.run(["get", "pods", "-A", "--field-selector", "spec.bogus=w1"]);
      assert.equal(r.code, 1, "an unknown field selector is refused");
      assert.match(r.err, /"spec\.bogus" is not a known field selector/);
      // Without --force an unmanaged pod stops the drain, as on a real cluster.
      r = k.run(["drain", "w1", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=20s"]);
      assert.equal(r.code, 1, r.out + r.err);
      assert.match(r.err, /cannot delete Pods (that )?declare no controller \(use --force to override\): default\/on-w1/);
      r = k.run(["drain", "w1", "--ignore-daemonsets", "--delete-emptydir-data", "--force", "--timeout=20s"]);
      assert.equal(r.code, 0, r.out + r.err);
      assert.match(r.out, /node\/w1 (already )?cordoned/);
      assert.match(r.out, /node\/w1 drained/);
      assert.equal((await call("GET", "/api/v1/namespaces/default/pods/on-w1", adminToken)).status, 404, "the drained node's pod is gone");
      assert.equal((await call("GET", "/api/v1/namespaces/default/pods/on-w2", adminToken)).status, 200, "the other node's pod stays");
      const node = JSON.parse((await call("GET", "/api/v1/nodes/w1", adminToken)).body) as { spec: { unschedulable?: boolean } };
      assert.equal(node.spec.unschedulable, true);
      r = k.run(["delete", "node", "w1", "--ignore-not-found"]);
      assert.equal(r.code, 0, r.err);
      assert.equal((await call("GET", "/api/v1/nodes/w1", adminToken)).status, 404);
      r = k.run(["delete", "node", "w1", "--ignore-not-found"]);
      assert.equal(r.code, 0, "deleting a Node that is gone is no error with --ignore-not-found");
    });
  }
});
