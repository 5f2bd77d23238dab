/**
 * End to end on real machines (the lab): plan -> apply -> the cluster is healthy -> plan shows no
 * changes -> a second apply changes nothing; an etcd member removed and wiped comes back through
 * `etcdctl member add` (once); then a worker powered off in the middle of a phase makes apply fail
 * with a clear per-host error while the other hosts end that phase cleanly, and a re-run after it
 * is back converges with etcd still 3 members.
 * Kubernetes binaries are the stand-ins from test/standins (an offline bundle); everything else is
 * real: ssh, systemd, apt through the lab's proxy, haproxy, keepalived, etcd with mutual TLS.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { labExec, labStart, labStop, type LabInfo } from "../../src/lab/index.ts";
import { dropLab, freshLab } from "../helpers/e2e-lab.ts";
import { kubeha, kubehaLive, type CliResult } from "../helpers/cli.ts";
import { parseServersState } from "../../src/probe/status.ts";
import { hexId, parseMemberList, type EtcdMember } from "../../src/plan/etcd.ts";
import { deadPeerBoundMs } from "../../src/exec/ssh.ts";
import type { RunEvent } from "../../src/report/events.ts";

// Overridable so an engineer can run this file on the lab name and range assigned to them.
const NAME = process.env.KUBEHA_E2E_APPLY_LAB ?? "kt-e2e";
const SUBNET = process.env.KUBEHA_E2E_APPLY_SUBNET ?? "198.19.249.0/24";
let lab: LabInfo;
let cwd: string;

const sh = async (m: string, cmd: string) => labExec(NAME, m, ["bash", "-c", cmd], { timeoutMs: 30_000 });

before(async () => {
  ({ lab, cwd } = await freshLab({ name: NAME, subnet: SUBNET, masters: 3, workers: 2 }));
});

after(() => dropLab(NAME, cwd));

async function vipHolders(): Promise<string[]> {
  const out: string[] = [];
  for (const m of ["master1", "master2", "master3"]) if ((await sh(m, `ip -o -4 addr show to ${lab.vip}/32`)).stdout.trim()) out.push(m);
  return out;
}

async function assertHealthy(): Promise<void> {
  assert.equal((await vipHolders()).length, 1, "exactly one machine holds the VIP");
  for (const m of ["master1", "master2", "master3"]) {
    // HAProxy's runtime API: every apiserver backend UP (srv_op_state 2) on every LB host.
    const stat = await sh(m, "echo 'show servers state' | socat stdio UNIX-CONNECT:/run/haproxy/admin.sock");
    const up = parseServersState(stat.stdout.split("\n")).filter((b) => b.state === "UP").map((b) => b.address);
    assert.deepEqual(up.sort(), lab.machines.filter((x) => x.name.startsWith("master")).map((x) => x.address).sort(), `${m}: haproxy backends up\n${stat.stdout}`);
    const r = await sh(m, `curl -s --cacert /etc/kubernetes/pki/ca.crt -o /dev/null -w '%{http_code}' https://${lab.vip}:8443/readyz`);
    assert.equal(r.stdout, "200", `${m}: /readyz through the VIP with certificate verification`);
  }
  assertThreeMembers(await etcdMembers());
}

const etcdctl = (args: string) =>
  `ETCDCTL_API=3 etcdctl --endpoints=https://${lab.machines[0]!.address}:2379 --cacert=/etc/etcd/pki/ca.crt --cert=/etc/etcd/pki/healthcheck-client.crt --key=/etc/etcd/pki/healthcheck-client.key ${args}`;

async function etcdMembers(): Promise<EtcdMember[]> {
  const r = await sh("master1", etcdctl("member list -w json"));
  assert.equal(r.code, 0, r.stderr);
  return parseMemberList(r.stdout);
}

/** Exactly the three masters, each started (an unstarted member has no name), no duplicate. */
function assertThreeMembers(ms: EtcdMember[]): void {
  const masters = lab.machines.filter((m) => m.name.startsWith("master"));
  assert.deepEqual(ms.map((m) => m.name).sort(), ["master1", "master2", "master3"], JSON.stringify(ms));
  assert.deepEqual(ms.flatMap((m) => m.peerURLs).sort(), masters.map((m) => `https://${m.address}:2380`).sort(), JSON.stringify(ms));
}

/** The CLI as a child process, calling `onEvent` for each `-o json` event (stdout) as it arrives. */
async function kubehaEvents(args: string[], opts: { cwd: string; timeoutMs: number }, onEvent: (e: RunEvent) => void): Promise<CliResult & { events: RunEvent[]; endedAt: number }> {
  const events: RunEvent[] = [];
  const r = await kubehaLive(args, { ...opts, lines: "stdout" }, (line) => {
    const e = JSON.parse(line) as RunEvent;
    events.push(e);
    onEvent(e);
  });
  return { ...r, events };
}

test("plan lists changes on fresh machines and touches nothing", () => {
  const r = kubeha(["plan", lab.clusterFile, "--output", "plain"], { cwd, timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /dry run: \d+ changes would be made/);
  assert.match(r.stdout, /master1:\n[\s\S]*kubeadm init/);
  assert.match(r.stdout, /worker2:\n[\s\S]*kubeadm join/);
});

const kubectl = (args: string) => sh("master1", `kubectl --kubeconfig /etc/kubernetes/admin.conf ${args}`);

test("apply without the cni phase: the nodes are NotReady (real kubectl), a ConfigMap into a missing namespace is refused", async () => {
  const r = kubeha(["apply", lab.clusterFile, "--skip-phases", "cni", "--output", "plain"], { cwd, timeoutMs: 15 * 60_000 });
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /stand-in/i, "the bundle's description says these are stand-ins");
  assert.match(r.stderr, /kubectl is REAL/, "lab up shipped this machine's real kubectl");
  const v = await sh("master1", "kubectl version --client -o json");
  assert.doesNotMatch(v.stdout, /standin/, v.stdout);
  const nodes = await kubectl("get nodes --no-headers");
  assert.equal(nodes.code, 0, nodes.stderr);
  const lines = nodes.stdout.trim().split("\n");
  assert.equal(lines.length, lab.machines.length, nodes.stdout);
  for (const l of lines) assert.match(l, /^\S+\s+NotReady\s/, nodes.stdout);
  const why = await kubectl(`get node master1 -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}'`);
  assert.match(why.stdout, /NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized/);
  const cm = await sh("master1", "printf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: kube-flannel-cfg\\n  namespace: kube-flannel\\n' > /tmp/cm.yaml && kubectl --kubeconfig /etc/kubernetes/admin.conf apply -f /tmp/cm.yaml");
  assert.equal(cm.code, 1);
  assert.match(cm.stderr, /Error from server \(NotFound\): error when creating "\/tmp\/cm\.yaml": namespaces "kube-flannel" not found/);
});

test("apply builds the cluster: flannel's objects in kube-flannel, every node Ready through kubectl", async () => {
  const r = kubeha(["apply", lab.clusterFile, "--output", "plain"], { cwd, timeoutMs: 15 * 60_000 });
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /master1:\n[\s\S]*apply flannel/);
  await assertHealthy();
  const objs = await kubectl("-n kube-flannel get daemonset,configmap,serviceaccount -o name");
  assert.deepEqual(objs.stdout.trim().split("\n").sort(), ["configmap/kube-flannel-cfg", "daemonset.apps/kube-flannel-ds", "serviceaccount/flannel"]);
  const nodes = await kubectl("get nodes --no-headers");
  for (const l of nodes.stdout.trim().split("\n")) assert.match(l, /^\S+\s+Ready\s/, nodes.stdout);
  for (const m of lab.machines) assert.equal((await sh(m.name, "test -s /etc/cni/net.d/10-flannel.conflist && echo ok")).stdout.trim(), "ok", m.name);
  // keepalived's parent and the VRRP child it forked, real-time through the drop-in's chrt.
  for (const m of ["master1", "master2", "master3"]) {
    const ps = (await sh(m, "ps -o cls=,rtprio= -C keepalived")).stdout.trim().split("\n").map((l) => l.trim().replace(/\s+/g, " "));
    assert.ok(ps.length >= 2 && ps.every((l) => l === "RR 10"), `${m}: keepalived's processes (class, RT priority): ${JSON.stringify(ps)}`);
  }
});

test("plan after apply reports no changes, and a second apply is a no-op", () => {
  const p = kubeha(["plan", lab.clusterFile, "--output", "plain"], { cwd });
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.stdout, /no changes: the cluster is converged/);
  const a = kubeha(["apply", lab.clusterFile, "--output", "plain"], { cwd });
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stdout, /no changes: the cluster was already converged/);
});

test("an etcd member removed and wiped comes back through member add, exactly once", async () => {
  const m3 = lab.machines.find((m) => m.name === "master3")!;
  await sh("master3", "systemctl stop etcd");
  const id = (await etcdMembers()).find((m) => m.name === "master3")!.id;
  const rm = await sh("master1", etcdctl(`member remove ${hexId(id)}`));
  assert.equal(rm.code, 0, rm.stderr);
  await sh("master3", "rm -rf /var/lib/etcd/member");
  assert.equal((await etcdMembers()).length, 2);

  const p = kubeha(["plan", lab.clusterFile, "--output", "plain"], { cwd });
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.stdout, new RegExp(`master3:\\n[\\s\\S]*etcdctl member add master3 --peer-urls=https://${m3.address.replaceAll(".", "\\.")}:2380`));
  assert.equal((await etcdMembers()).length, 2, "plan changed nothing");

  const a = kubeha(["apply", lab.clusterFile, "--output", "plain"], { cwd, timeoutMs: 5 * 60_000 });
  assert.equal(a.code, 0, `${a.stdout}\n${a.stderr}`);
  assert.match(a.stdout, /master3:\n[\s\S]*etcdctl member add master3/);
  assert.deepEqual(a.stdout.match(/^\S+(?=:$)/gm), ["master3"], "only master3 changed");
  assertThreeMembers(await etcdMembers());
  const env = await sh("master3", "cat /etc/default/etcd");
  assert.match(env.stdout, /^ETCD_INITIAL_CLUSTER_STATE="existing"$/m);

  const again = kubeha(["plan", lab.clusterFile, "--output", "plain"], { cwd });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /no changes: the cluster is converged/);

  // A run that died right after `member add`: the member is there, unstarted. apply starts it
  // (etcd checks the list it is given against the cluster) and adds nothing.
  await sh("master3", "systemctl stop etcd");
  const id2 = (await etcdMembers()).find((m) => m.name === "master3")!.id;
  assert.equal((await sh("master1", etcdctl(`member remove ${hexId(id2)}`))).code, 0);
  await sh("master3", "rm -rf /var/lib/etcd/member");
  const added = await sh("master1", etcdctl(`member add master3 --peer-urls=https://${m3.address}:2380`));
  assert.equal(added.code, 0, added.stderr);
  assert.deepEqual((await etcdMembers()).map((m) => m.name).sort(), ["", "master1", "master2"], "master3 added, not started");
  const resumed = kubeha(["apply", lab.clusterFile, "--output", "plain"], { cwd, timeoutMs: 5 * 60_000 });
  assert.equal(resumed.code, 0, `${resumed.stdout}\n${resumed.stderr}`);
  assert.doesNotMatch(resumed.stdout, /member add/);
  assert.match(resumed.stderr, /master3 is already a member \(not started yet\)/);
  assertThreeMembers(await etcdMembers());
});

test("a worker powered off in the middle of a phase: a clear per-host error, the others end cleanly, a re-run converges", async () => {
  // Work for apply on worker2: a package to install (packages phase) and a node to join.
  const reset = await sh("worker2", "kubeadm reset -f >/dev/null 2>&1; rm -f /etc/kubernetes/kubelet.conf; dpkg -r socat >/dev/null");
  assert.equal(reset.code, 0, reset.stderr);
  let stopping: Promise<void> | undefined;
  let stoppedAt = 0;
  const r = await kubehaEvents(["apply", lab.clusterFile, "--output", "json"], { cwd, timeoutMs: 5 * 60_000 }, (e) => {
    // The moment apply starts installing on worker2 (apt-get runs), pull its plug.
    if (!stopping && e.type === "change" && e.host === "worker2" && e.phase === "packages" && /apt-get install/.test(e.message)) {
      stoppedAt = Date.now();
      stopping = labStop(NAME, "worker2", { hard: true });
    }
  });
  assert.ok(stopping, `apply never started installing on worker2:\n${r.stderr}`);
  await stopping;
  assert.equal(r.code, 1, r.stderr);
  assert.ok(r.endedAt - stoppedAt < deadPeerBoundMs() + 15_000, `apply took ${r.endedAt - stoppedAt} ms to give up on worker2`);
  // The error names the host, the phase and what to do.
  const fail = r.events.find((e) => e.type === "phase-fail" && e.host === "worker2");
  assert.ok(fail && fail.type === "phase-fail", r.stderr);
  assert.equal(fail.phase, "packages");
  assert.equal(fail.error.host, "worker2");
  assert.match(fail.error.message, /lost the connection to worker2/);
  assert.match(fail.error.command ?? "", /apt-get install/);
  assert.match(r.stderr, /^kubeha: error: lost the connection to worker2[^\n]*\n  host: +worker2\n  phase: +packages\n/m);
  assert.match(r.stderr, /^  hint: .*worker2/m);

  // Nothing half-done elsewhere: every phase another host started ended (done or skipped, none
  // failed), and the run stopped at the phase boundary: no later phase started anywhere.
  const perHost = new Map<string, Map<string, string>>();
  for (const e of r.events) {
    if (!("host" in e) || !e.host || e.host === "worker2" || !["phase-start", "phase-done", "phase-skip", "phase-fail"].includes(e.type)) continue;
    const m = perHost.get(e.host) ?? new Map<string, string>();
    m.set((e as { phase: string }).phase, e.type);
    perHost.set(e.host, m);
  }
  assert.deepEqual([...perHost.keys()].sort(), ["master1", "master2", "master3", "worker1"]);
  for (const [host, phases] of perHost) {
    for (const [phase, last] of phases) assert.ok(last === "phase-done" || last === "phase-skip", `${host} ${phase}: ${last}`);
    assert.equal(phases.get("packages"), "phase-done", `${host} finished the packages phase`);
  }
  const started = r.events.filter((e) => e.type === "phase-start" && !e.host).map((e) => (e as { phase: string }).phase);
  assert.deepEqual(started, ["connect", "facts", "preflight", "os", "packages"]);
  // ... and their services still run.
  await assertHealthy();
  assert.equal((await sh("worker1", "systemctl is-active containerd kubelet")).stdout, "active\nactive\n");

  await labStart(NAME, "worker2");
  // The files on the other hosts are complete: what is left to do is worker2's, plus the
  // bootstrap token the first control plane issues (and revokes) for worker2's join.
  const p = await kubehaEvents(["plan", lab.clusterFile, "--output", "json"], { cwd, timeoutMs: 120_000 }, () => {});
  assert.equal(p.code, 0, p.stderr);
  const elsewhere = p.events.filter((e) => e.type === "change" && e.host !== "worker2");
  for (const e of elsewhere) {
    assert.ok(e.type === "change" && e.host === "master1" && ["workers", "token-revoke"].includes(e.phase) && /bootstrap token/.test(e.message), JSON.stringify(e));
  }
  assert.ok(p.events.some((e) => e.type === "change" && e.host === "worker2" && e.phase === "packages"), "worker2 still needs its package");

  const again = kubeha(["apply", lab.clusterFile, "--output", "plain"], { cwd, timeoutMs: 10 * 60_000 });
  assert.equal(again.code, 0, `${again.stdout}\n${again.stderr}`);
  assert.match(again.stdout, /worker2:[\s\S]*kubeadm join/);
  assert.doesNotMatch(again.stdout, /kubeadm init/, "never re-inits an initialized control plane");
  assert.doesNotMatch(again.stdout, /member add/, "no etcd member added");
  await assertHealthy();
});
