/**
 * `bootstrap: binary` (issue 14), on real machines, seed 001's shape: 3 masters (control plane as
 * kubeha's systemd units + external etcd with mutual TLS), 2 dedicated LB hosts (HAProxy +
 * keepalived, unicast), 2 workers; no kubeadm anywhere. The Kubernetes binaries are the bundle's
 * STAND-INS (kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy), run by
 * kubeha's units; HAProxy, keepalived, etcd, systemd and kubectl are real. Asserted: apply converges
 * with no kubeadm command; every node registered through TLS bootstrap (its CSR approved and
 * signed by the controller-manager, the kubelet's client certificate issued by the cluster CA);
 * control planes labelled; CoreDNS's objects applied; plan has no changes and a second apply is a
 * no-op; status healthy with the controller-manager and scheduler leaders; the drill's LB
 * scenarios meet their targets with no acknowledged etcd write lost.
 * Lab name and subnet: KUBEHA_E2E_BIN_LAB / KUBEHA_E2E_BIN_SUBNET (default kt-bin, 198.19.230.0/24).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { labExec, type LabInfo } from "../../src/lab/index.ts";
import { PATHS } from "../../src/render/paths.ts";
import { CONTROL_PLANE_LABELS } from "../../src/render/binary/addons.ts";
import type { LeaderStatus } from "../../src/probe/leaders.ts";
import { LEADER_ELECTION } from "../../src/probe/leaders.ts";
import type { RunEvent } from "../../src/report/events.ts";
import { dropLab, freshLab } from "../helpers/e2e-lab.ts";
import { assertLbDrill } from "../helpers/lb-drill.ts";
import { kubeha, untilOk, type CliResult } from "../helpers/cli.ts";

const NAME = process.env.KUBEHA_E2E_BIN_LAB ?? "kt-bin";
const SUBNET = process.env.KUBEHA_E2E_BIN_SUBNET ?? "198.19.230.0/24";
const MASTERS = ["master1", "master2", "master3"];
const NODES = [...MASTERS, "worker1", "worker2"];
let lab: LabInfo;
let cwd: string | undefined;
let applied: CliResult | undefined;
let applySeconds = 0;

async function sh(machine: string, cmd: string): Promise<string> {
  const r = await labExec(NAME, machine, ["bash", "-c", cmd], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `${machine}: ${cmd}\n${r.stdout}\n${r.stderr}`);
  return r.stdout.trim();
}
const kubectl = (args: string) => sh("master1", `kubectl --kubeconfig ${PATHS.adminConf} ${args}`);

interface StatusReport {
  healthy: boolean;
  problems: string[];
  leaders: LeaderStatus[];
}

before(async () => {
  ({ lab, cwd } = await freshLab({ name: NAME, subnet: SUBNET, masters: 3, workers: 2, lbs: 2, bootstrap: "binary" }));
  const t0 = Date.now();
  applied = kubeha(["apply", lab.clusterFile, "--output", "json"], { cwd, timeoutMs: 15 * 60_000 });
  applySeconds = (Date.now() - t0) / 1000;
});

after(() => dropLab(NAME, cwd));

test("apply converges without kubeadm: every unit kubeha rendered runs, the nodes joined through TLS bootstrap, control planes labelled, CoreDNS applied", async () => {
  assert.ok(applied);
  assert.equal(applied.code, 0, `${applied.stderr}\n${applied.stdout.slice(-4000)}`);
  const events = applied.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as RunEvent);
  const changes = events.flatMap((e) => (e.type === "change" ? [`${e.host}: ${e.message}`] : []));
  console.log(`# binary mode (stand-ins): lab of 7 machines applied in ${applySeconds.toFixed(1)} s, ${changes.length} changes`);
  const kubeadm = changes.filter((c) => /^\S+: kubeadm |\/usr\/bin\/kubeadm|kubelet\.service\.d\/10-kubeadm\.conf/.test(c));
  assert.deepEqual(kubeadm, [], "no kubeadm command ran and the bundle installed neither kubeadm nor its kubelet drop-in");
  for (const m of MASTERS)
    assert.equal(await sh(m, "systemctl is-active kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy etcd | sort -u"), "active", m);
  for (const w of ["worker1", "worker2"]) {
    assert.equal(await sh(w, "systemctl is-active kubelet kube-proxy | sort -u"), "active", w);
    assert.equal((await labExec(NAME, w, ["test", "-e", "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf"])).code, 1, `${w}: no kubeadm drop-in`);
    assert.equal((await labExec(NAME, w, ["test", "-e", "/usr/bin/kubeadm"])).code, 1, `${w}: no kubeadm binary`);
  }
  for (const lb of ["lb1", "lb2"]) assert.equal(await sh(lb, "systemctl is-active haproxy keepalived | sort -u"), "active", lb);
  // TLS bootstrap: each kubelet's client certificate came from a CSR the controller-manager approved and signed with the cluster CA.
  const csrs = JSON.parse(await kubectl("get csr -o json")) as { items: Array<{ spec: { username: string; signerName: string }; status: { conditions?: Array<{ type: string; status: string }>; certificate?: string } }> };
  for (const n of NODES) {
    const subject = await sh(n, `openssl x509 -noout -subject -issuer -in ${PATHS.kubeletPkiDir}/kubelet-client-current.pem`);
    assert.match(subject, new RegExp(`subject=O ?= ?system:nodes, ?CN ?= ?system:node:${n}\\b`), `${n}: ${subject}`);
    assert.equal(await sh(n, `openssl verify -CAfile ${PATHS.kubernetesCa} ${PATHS.kubeletPkiDir}/kubelet-client-current.pem`), `${PATHS.kubeletPkiDir}/kubelet-client-current.pem: OK`);
  }
  const approved = csrs.items.filter((c) => c.spec.signerName === "kubernetes.io/kube-apiserver-client-kubelet" && c.status.conditions?.some((x) => x.type === "Approved" && x.status === "True") && c.status.certificate);
  assert.ok(approved.length >= NODES.length, `${approved.length} approved and issued kubelet CSRs for ${NODES.length} nodes`);
  assert.ok(approved.every((c) => c.spec.username.startsWith("system:bootstrap:")), "requested with the bootstrap token");
  const nodes = JSON.parse(await kubectl("get nodes -o json")) as { items: Array<{ metadata: { name: string; labels: Record<string, string> }; status: { conditions: Array<{ type: string; status: string }> } }> };
  assert.deepEqual(nodes.items.map((n) => n.metadata.name).sort(), NODES);
  for (const n of nodes.items) {
    assert.equal(n.status.conditions.find((c) => c.type === "Ready")?.status, "True", `${n.metadata.name} Ready`);
    for (const l of CONTROL_PLANE_LABELS) assert.equal(l in n.metadata.labels, MASTERS.includes(n.metadata.name), `${n.metadata.name}: ${l}`);
  }
  assert.deepEqual((await kubectl(`-n kube-system get -f ${PATHS.corednsManifest} -o name`)).split("\n").sort(), [
    "clusterrole.rbac.authorization.k8s.io/system:coredns",
    "clusterrolebinding.rbac.authorization.k8s.io/system:coredns",
    "configmap/coredns",
    "deployment.apps/coredns",
    "service/kube-dns",
    "serviceaccount/coredns",
  ]);
});

test("plan after apply reports no changes, and a second apply is a no-op", () => {
  const p = kubeha(["plan", lab.clusterFile, "--output", "plain"], { cwd: cwd! });
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.stdout, /no changes: the cluster is converged/, p.stdout);
  const a = kubeha(["apply", lab.clusterFile, "--output", "plain"], { cwd: cwd! });
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stdout, /no changes: the cluster was already converged/, a.stdout);
});

test("status is healthy and names the controller-manager and scheduler leaders, each on a master", async () => {
  const wait = (LEADER_ELECTION.lease + 2 * LEADER_ELECTION.retry * LEADER_ELECTION.jitter) * 1000 + 30_000;
  const settled = (r: CliResult) => r.code === 0 && !(JSON.parse(r.stdout) as StatusReport).leaders.some((l) => l.leaderless);
  const s = await untilOk(() => kubeha(["status", lab.clusterFile, "-o", "json"], { cwd: cwd!, timeoutMs: 90_000 }), wait / 1000, settled);
  assert.equal(s.code, 0, s.stdout + s.stderr);
  const leaders = (JSON.parse(s.stdout) as StatusReport).leaders;
  assert.deepEqual(leaders.map((l) => [l.component, l.leaderless]), [["kube-controller-manager", false], ["kube-scheduler", false]]);
  for (const l of leaders) assert.ok(MASTERS.includes(l.host ?? ""), `${l.component} led by ${l.holder}`);
  const text = kubeha(["status", lab.clusterFile], { cwd: cwd!, timeoutMs: 90_000 });
  assert.match(text.stdout, /stand-in/i, "status says the binaries are stand-ins");
});

test("drill lb-haproxy-dies, lb-machine-down: targets met, the VIP moved between the LB hosts, no acknowledged etcd write lost", async () => {
  const results = await assertLbDrill({ clusterFile: lab.clusterFile, name: NAME, cwd: cwd!, where: "in binary mode" });
  for (const s of results) assert.ok(s.targets.every((t) => t.startsWith("lb")), `${s.scenario}: the fault hit an LB host (${s.targets.join(", ")})`);
  const after = await untilOk(() => kubeha(["status", lab.clusterFile, "-o", "json"], { cwd: cwd!, timeoutMs: 90_000 }), 120);
  assert.equal(after.code, 0, `status after the drill\n${after.stdout}`);
});

test("reset worker2 (binary mode): no kubeadm, its units stopped, the kubelet's bootstrapped certificate and kubeha's files gone; a second reset is a no-op; apply joins it again through TLS bootstrap", async () => {
  const r = kubeha(["reset", lab.clusterFile, "--host", "worker2", "--yes"], { cwd: cwd!, timeoutMs: 5 * 60_000 });
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.doesNotMatch(r.stdout, /kubeadm/, "no kubeadm in a binary cluster's reset");
  assert.match(r.stdout, /delete the kubelet's state in \/var\/lib\/kubelet/);
  assert.equal(await sh("worker2", "systemctl is-active kubelet kube-proxy | sort -u"), "inactive");
  assert.equal(await sh("worker2", `ls -A ${PATHS.kubeletDir} ${PATHS.kubernetesDir} 2>/dev/null | grep -v ':$' | grep -c . || true`), "0", "the kubelet's state and /etc/kubernetes are empty or gone");
  assert.equal(await sh("worker2", "ls /etc/systemd/system/kubelet.service /etc/systemd/system/kube-proxy.service 2>/dev/null | wc -l"), "0", "kubeha's units are gone");
  const again = kubeha(["reset", lab.clusterFile, "--host", "worker2", "--yes", "-o", "json"], { cwd: cwd!, timeoutMs: 5 * 60_000 });
  assert.equal(again.code, 0, again.stderr);
  const rep = JSON.parse(again.stdout) as { hosts: Array<{ host: string; clean: boolean; actions: unknown[] }> };
  assert.deepEqual(rep.hosts.map((h) => [h.host, h.clean, h.actions.length]), [["worker2", true, 0]]);
  // Back: a new CSR with the bootstrap token, approved and signed; the Node Ready again.
  const a = kubeha(["apply", lab.clusterFile, "--output", "plain"], { cwd: cwd!, timeoutMs: 10 * 60_000 });
  assert.equal(a.code, 0, `${a.stdout.slice(-3000)}\n${a.stderr}`);
  assert.equal(await sh("worker2", "systemctl is-active kubelet kube-proxy | sort -u"), "active");
  assert.equal(await sh("worker2", `openssl verify -CAfile ${PATHS.kubernetesCa} ${PATHS.kubeletPkiDir}/kubelet-client-current.pem`), `${PATHS.kubeletPkiDir}/kubelet-client-current.pem: OK`);
  const ready = await untilOk(async () => {
    const out = await kubectl(`get node worker2 -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'`);
    return { code: out === "True" ? 0 : 1, stdout: out, stderr: "" };
  }, 60);
  assert.equal(ready.code, 0, `worker2 Ready: ${ready.stdout}`);
});
