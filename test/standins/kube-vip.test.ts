/**
 * The kube-vip stand-in and the Lease API of the kube-apiserver stand-in, in a throw-away network
 * namespace (`unshare -n`: the VIP is added to a veth that exists only there). Asserted: the Lease
 * API answers like the real one (401 without a credential, 404, 201, AlreadyExists, the update
 * conflict text, a missing namespace); a kubeconfig from a foreign CA is refused; the first kube-vip
 * takes the Lease and the VIP, a second one waits; SIGTERM hands over at once (Lease released);
 * after a SIGKILL the dead holder's address stays and the other takes over only once the Lease expired.
 * The kubelet stand-in's manifest reading and the strict start-up checks run without a namespace.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { runBin, runPy, BIN, apiserverPki } from "./helpers.ts";
import { parseCluster } from "../../src/spec/read.ts";
import { renderKubeVip } from "../../src/render/kubevip.ts";

let work: string;

before(() => {
  work = mkdtempSync(join(tmpdir(), "kubeha-kube-vip-"));
  apiserverPki(work);
});

after(() => rmSync(work, { recursive: true, force: true }));

type Step = Record<string, unknown> & { step: string };

test("Lease API and kube-vip leader election in a network namespace: one holder, hand-over on SIGTERM, expiry after SIGKILL", () => {
  const r = spawnSync("unshare", ["-n", "python3", join(import.meta.dirname, "fixtures", "kube-vip-netns.py"), work, "6443", "198.18.66.100"], {
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
  });
  assert.equal(r.status, 0, r.stderr);
  const steps = new Map(r.stdout.trim().split("\n").map((l) => JSON.parse(l) as Step).map((s) => [s.step, s]));
  const api = steps.get("api")!;
  assert.equal(api.no_token, 401);
  assert.deepEqual(api.missing, [404, 'leases.coordination.k8s.io "t" not found']);
  assert.equal(api.create, 201);
  assert.deepEqual(api.again, [409, 'leases.coordination.k8s.io "t" already exists']);
  assert.match((api.no_rv as [number, string])[1], /metadata\.resourceVersion: Invalid value: 0x0: must be specified for an update/);
  assert.deepEqual(api.stale, [409, 'Operation cannot be fulfilled on leases.coordination.k8s.io "t": the object has been modified; please apply your changes to the latest version and try again']);
  assert.deepEqual(api.no_ns, [404, 'namespaces "nope" not found']);
  assert.deepEqual(steps.get("update"), { step: "update", first: 200, same_rv_again: 409 }, "a resourceVersion is good for one update only");

  const foreign = steps.get("foreign CA")!;
  assert.equal(foreign.rc, 1);
  assert.match(foreign.stderr as string, /^\[stand-in kube-vip\] error: .*tls: failed to verify certificate: x509: /);
  assert.equal(foreign.vip, false, "a kube-vip that cannot verify the API server never takes the VIP");

  const first = steps.get("first leader")!;
  assert.ok(typeof first.after === "number" && first.after < 5, `first leader after ${first.after} s`);
  assert.equal(steps.get("follower waits")!.holder, "cp-a");
  const term = steps.get("leader SIGTERM")!;
  assert.equal(term.rc, 0);
  assert.ok(typeof term.after === "number" && term.after < 2.5, `the Lease was released: the follower took over after ${term.after} s (lease 3 s)`);
  const kill = steps.get("leader SIGKILL")!;
  assert.equal(kill.vip_left, true, "SIGKILL leaves the dead leader's address behind");
  assert.equal(kill.holder, "cp-b", "and its Lease");
  const expired = steps.get("lease expired")!;
  assert.ok(typeof expired.after === "number" && expired.after >= 2.5 && expired.after < 8, `taken over after the 3 s lease expired: ${expired.after} s`);
  assert.equal(expired.vip, true);
  assert.equal(expired.transitions, 2, "leaseTransitions counts the two hand-overs");
});

test("kube-vip stand-in refuses what real kube-vip refuses, with its messages, and says it is a stand-in", () => {
  const base = { vip_arp: "true", cp_enable: "true", vip_leaderelection: "true", address: "198.18.66.100", vip_interface: "lo", port: "6443",
    KUBEHA_STANDIN_KUBERNETES_HOST: "127.0.0.1" };
  const run = (env: Record<string, string>) => {
    const r = spawnSync(join(BIN, "kube-vip"), ["manager"], { encoding: "utf8", env: { PATH: process.env.PATH!, PYTHONDONTWRITEBYTECODE: "1", ...env }, timeout: 20_000 });
    return { status: r.status, stderr: r.stderr };
  };
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ["no interface", { ...base, vip_interface: "" }, /No interface is specified for kube-vip to bind to/],
    ["no address", { ...base, address: "" }, /No address is specified for kube-vip to expose services on/],
    ["unknown interface", { ...base, vip_interface: "nosuch0" }, /could not find interface 'nosuch0': Link not found/],
    ["no leader election", { ...base, vip_leaderelection: "false" }, /vip_leaderelection must be "true"/],
    ["bad timing", { ...base, vip_leaseduration: "2", vip_renewdeadline: "3" }, /leaseDuration must be greater than renewDeadline/],
    ["missing kubeconfig", { ...base, KUBEHA_STANDIN_KUBECONFIG: join(work, "absent.conf") }, /stat .*absent\.conf: no such file or directory/],
  ];
  for (const [name, env, want] of cases) {
    const r = run(env);
    assert.equal(r.status, 1, name);
    assert.match(r.stderr, want, name);
    assert.match(r.stderr, /^\[stand-in kube-vip\] error: /, name);
  }
  writeFileSync(join(work, "empty.conf"), "", { mode: 0o600 }); // what hostPath FileOrCreate leaves when nothing placed it
  assert.match(run({ ...base, KUBEHA_STANDIN_KUBECONFIG: join(work, "empty.conf") }).stderr, /error loading kubeconfig .*empty\.conf/);
  assert.match(run({ ...base, KUBEHA_STANDIN_KUBECONFIG: join(work, "ca.crt"), KUBEHA_STANDIN_KUBERNETES_HOST: "" }).stderr, /error loading kubeconfig/);
  const v = runBin("kube-vip", ["version"]);
  assert.match(v.stdout, /stand-in from kubeha's test tree, not kube-vip/);
  assert.equal(runBin("kube-vip", ["start"]).status, 1);
});

test("kubelet stand-in: kubeha's rendered kube-vip manifest becomes the stand-in's environment; malformed pods are refused", () => {
  const r = parseCluster(
    `apiVersion: kubeha.dev/v1alpha1
kind: Cluster
metadata: { name: kv }
spec:
  ssh: { user: root, keyPath: /k }
  hosts:
    - { name: m1, address: 198.18.66.11, roles: [control-plane, etcd], interface: host0 }
    - { name: m2, address: 198.18.66.12, roles: [control-plane, etcd], interface: host0 }
    - { name: m3, address: 198.18.66.13, roles: [control-plane, etcd], interface: host0 }
  controlPlaneEndpoint: { mode: kube-vip, vip: 198.18.66.100 }
  etcd: { mode: external }
`,
    { home: "/h" },
  );
  assert.ok(r.cluster, JSON.stringify(r.problems));
  const files = renderKubeVip(r.cluster, r.cluster.hosts[0]!);
  const py = (manifest: string) =>
    runPy(
      "import sys, importlib.util, importlib.machinery\n" +
        `loader = importlib.machinery.SourceFileLoader('kubelet', ${JSON.stringify(join(BIN, "kubelet"))})\n` +
        "spec = importlib.util.spec_from_loader('kubelet', loader); m = importlib.util.module_from_spec(spec); loader.exec_module(m)\n" +
        "try:\n  print(m.kube_vip_env(sys.stdin.read()), end='')\nexcept Exception as e:\n  print('REFUSED', e)\n",
      manifest,
    ).stdout;
  const steady = py(files.find((f) => f.path === "/etc/kubernetes/manifests/kube-vip.yaml")!.content);
  assert.match(steady, /^# STAND-IN/);
  for (const line of ['address="198.18.66.100"', 'vip_interface="host0"', 'port="6443"', 'vip_leaseduration="5"', 'vip_renewdeadline="3"',
    'vip_retryperiod="1"', 'KUBEHA_STANDIN_KUBECONFIG="/etc/kubernetes/admin.conf"', 'KUBEHA_STANDIN_KUBERNETES_HOST="127.0.0.1"']) {
    assert.ok(steady.split("\n").includes(line), `${line} in\n${steady}`);
  }
  const init = py(files.find((f) => f.path === "/etc/kubeha/kube-vip.init.yaml")!.content);
  assert.ok(init.split("\n").includes('KUBEHA_STANDIN_KUBECONFIG="/etc/kubernetes/super-admin.conf"'), init);
  const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "kube-vip" }, spec: { hostNetwork: true, containers: [{ name: "kube-vip", args: ["manager"], env: [{ name: "address", value: "1.2.3.4" }] }] } };
  assert.match(py(stringify({ ...pod, kind: "Deployment" })), /^REFUSED not a v1 Pod/);
  assert.match(py(stringify({ ...pod, spec: { ...pod.spec, hostNetwork: false } })), /^REFUSED kube-vip in ARP mode needs hostNetwork: true/);
  assert.match(py(stringify({ ...pod, spec: { ...pod.spec, containers: [{ ...pod.spec.containers[0], env: [{ name: "a b", value: "x" }] }] } })), /^REFUSED invalid env entry/);
  assert.match(py(stringify({ ...pod, spec: { ...pod.spec, containers: [{ ...pod.spec.containers[0], env: [{ name: "a", value: 'x"\ny' }] }] } })), /^REFUSED invalid env entry/);
});
