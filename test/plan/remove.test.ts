/**
 * `kubeha node remove`, the pure parts: the quorum guard (a table of topologies and removals, each
 * refusal naming the numbers), the ordered actions for a worker and for a control plane carrying
 * an external etcd member and an LB role (reachable or already gone), the etcd member-remove
 * command, and the cluster-file edit that keeps comments.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseCluster } from "../../src/spec/read.ts";
import type { Cluster } from "../../src/spec/model.ts";
import { planRemoval, quorumOf, removalRefusals, describeAction } from "../../src/plan/remove.ts";
import { etcdMemberRemoveCommand, memberOf, type EtcdMember } from "../../src/plan/etcd.ts";
import { hostEntryLines, hostEntryOf, removeHostsFromText } from "../../src/spec/edit-hosts.ts";
import { readYaml } from "../../src/spec/yaml.ts";
import { normalize } from "../../src/spec/normalize.ts";
import type { ClusterFile } from "../../src/spec/file.ts";
import { formerHostNotice, formerHosts, mergeManaged } from "../../src/pki/managed-hosts.ts";

interface Topology {
  hosts: Array<{ name: string; roles: string[] }>;
  etcd?: "external" | "stacked";
  endpoint?: "haproxy-keepalived" | "haproxy" | "kube-vip";
}

function text(t: Topology): string {
  const hosts = t.hosts.map((h, i) => `    # host ${h.name}\n    - name: ${h.name}\n      address: 198.18.72.${11 + i}\n      roles: [${h.roles.join(", ")}]\n`).join("");
  const mode = t.endpoint ?? "haproxy-keepalived";
  const ep =
    mode === "haproxy"
      ? "  controlPlaneEndpoint:\n    mode: haproxy\n"
      : `  controlPlaneEndpoint:\n    mode: ${mode}\n    vip: 198.18.72.250\n${mode === "haproxy-keepalived" ? "    vipPrefix: 24\n" : ""}`;
  return `# the cluster\napiVersion: kubeha.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: rm-test\nspec:\n  hosts:\n${hosts}  kubernetes:\n    version: "1.34.2"\n${ep}  etcd:\n    mode: ${t.etcd ?? "external"}\n`;
}

function cluster(t: Topology | string): Cluster {
  const r = parseCluster(typeof t === "string" ? t : text(t), { sourcePath: "/tmp/rm-test/cluster.yaml" });
  assert.ok(r.cluster, r.problems.map((p) => `${p.path}: ${p.message}`).join("\n"));
  return r.cluster;
}

const M = ["control-plane", "etcd", "lb"];
/** The lab's topology: 3 masters with control plane, external etcd member and LB; 2 workers. */
const LAB: Topology = { hosts: [{ name: "master1", roles: M }, { name: "master2", roles: M }, { name: "master3", roles: M }, { name: "worker1", roles: ["worker"] }, { name: "worker2", roles: ["worker"] }] };
const LAB4: Topology = { hosts: [...LAB.hosts.slice(0, 3), { name: "master4", roles: M }, ...LAB.hosts.slice(3)] };

test("quorumOf: floor(n/2)+1", () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(quorumOf), [1, 2, 2, 3, 3, 4, 4]);
});

test("the quorum guard, as a table: what is refused names the numbers, what is safe is empty", () => {
  const stacked: Topology = { etcd: "stacked", hosts: [1, 2, 3].map((i) => ({ name: `m${i}`, roles: ["control-plane", "lb"] })).concat([{ name: "w1", roles: ["worker"] }]) };
  const dedicated: Topology = {
    hosts: [
      { name: "lb1", roles: ["lb"] }, { name: "lb2", roles: ["lb"] },
      { name: "m1", roles: ["control-plane", "etcd"] }, { name: "m2", roles: ["control-plane", "etcd"] }, { name: "m3", roles: ["control-plane", "etcd"] },
      { name: "e4", roles: ["etcd"] }, { name: "e5", roles: ["etcd"] },
    ],
  };
  const single: Topology = { endpoint: "haproxy", hosts: [{ name: "proxy", roles: ["lb"] }, { name: "m1", roles: ["control-plane", "etcd"] }, { name: "m2", roles: ["control-plane", "etcd"] }, { name: "m3", roles: ["control-plane", "etcd"] }] };
  const vip: Topology = { endpoint: "kube-vip", etcd: "stacked", hosts: [{ name: "m1", roles: ["control-plane"] }] };
  const rows: Array<[string, Topology, string[], RegExp[]]> = [
    ["a worker", LAB, ["worker2"], []],
    ["both workers", LAB, ["worker1", "worker2"], []],
    ["1 of 3 masters", LAB, ["master3"], []],
    ["2 of 3 masters", LAB, ["master2", "master3"], [/removing 2 of 3 etcd members \(master2, master3\) leaves 1, and 3 members need 2 for quorum/]],
    ["3 of 3 masters", LAB, ["master1", "master2", "master3"], [/removing 3 of 3 etcd members .* leaves 0/, /leaves 0 of 3 control planes/, /leaves 0 of 3 LB hosts \(HAProxy \+ keepalived VIP candidates\); nothing would serve 198\.18\.72\.250:\d+/]],
    ["1 of 4 masters", LAB4, ["master4"], []],
    ["2 of 4 masters", LAB4, ["master3", "master4"], [/removing 2 of 4 etcd members \(master3, master4\) leaves 2, and 4 members need 3 for quorum/]],
    ["stacked: 1 of 3", stacked, ["m3"], []],
    ["stacked: 2 of 3", stacked, ["m1", "m3"], [/removing 2 of 3 etcd members \(m1, m3\) leaves 1, and 3 members need 2/]],
    ["dedicated: 2 of 5 etcd members", dedicated, ["e4", "e5"], []],
    ["dedicated: 3 of 5 etcd members", dedicated, ["m3", "e4", "e5"], [/removing 3 of 5 etcd members \(m3, e4, e5\) leaves 2, and 5 members need 3/]],
    ["dedicated: one LB host of 2", dedicated, ["lb2"], []],
    ["dedicated: both LB hosts", dedicated, ["lb1", "lb2"], [/load balancer: removing lb1, lb2 leaves 0 of 2 LB hosts/]],
    ["single proxy", single, ["proxy"], [/leaves 0 of 1 HAProxy hosts; nothing would serve/]],
    ["kube-vip: the only control plane", vip, ["m1"], [/removing 1 of 1 etcd members \(m1\) leaves 0, and 1 members need 1/, /leaves 0 of 1 control planes/]],
  ];
  for (const [what, topo, names, expect] of rows) {
    const got = removalRefusals(cluster(topo), names);
    assert.equal(got.length, expect.length, `${what}: ${JSON.stringify(got)}`);
    expect.forEach((re, i) => assert.match(got[i]!, re, what));
  }
});

/** The cluster without `names`, as node remove builds it (the file's entries dropped). */
const without = (t: Topology, names: string[]) => cluster({ ...t, hosts: t.hosts.filter((h) => !names.includes(h.name)) });

test("a worker's removal: drain, reset, delete the Node, forget; no LB or etcd step", () => {
  const p = planRemoval(cluster(LAB), without(LAB, ["worker2"]), ["worker2"], new Set(["worker2"]), { drainTimeoutSeconds: 120 });
  assert.deepEqual(p.actions.map((a) => a.kind), ["drain", "reset", "delete-node", "hosts-file", "forget"]);
  assert.equal(p.notes.length, 0);
  const drain = p.actions[0]!;
  assert.ok(drain.kind === "drain" && drain.via.name === "master1" && drain.timeoutSeconds === 120);
});

test("a control plane with an external etcd member and an LB role: every step, in an order that keeps the endpoint serving", () => {
  const before = cluster(LAB4);
  const after = without(LAB4, ["master4"]);
  const p = planRemoval(before, after, ["master4"], new Set(["master4"]), { drainTimeoutSeconds: 300 });
  assert.deepEqual(p.actions.map((a) => a.kind), ["drain", "hand-over-vip", "stop-lb", "converge-lb", "etcd-remove", "reset", "stop-etcd", "delete-node", "hosts-file", "forget"]);
  const byKind = new Map(p.actions.map((a) => [a.kind, a]));
  const handover = byKind.get("hand-over-vip")!;
  assert.ok(handover.kind === "hand-over-vip");
  assert.deepEqual(handover.to.map((h) => h.name), ["master1", "master2", "master3"], "the VIP goes to a keepalived host that stays, before anything stops");
  assert.match(describeAction(handover), /master4: hand the VIP over first \(keepalived priority lowered, the next LB host takes it by preemption\), then wait until master1 or master2 or master3 holds it/);
  const stop = byKind.get("stop-lb")!;
  assert.ok(stop.kind === "stop-lb");
  assert.deepEqual(stop.units, ["keepalived", "haproxy"], "keepalived first: had the hand-over failed, its stop moves the VIP at once");
  const lb = byKind.get("converge-lb")!;
  assert.ok(lb.kind === "converge-lb");
  assert.deepEqual(lb.hosts.map((h) => h.name), ["master1", "master2", "master3"]);
  const etcd = byKind.get("etcd-remove")!;
  assert.ok(etcd.kind === "etcd-remove");
  assert.deepEqual(etcd.via.map((h) => h.name), ["master1", "master2", "master3"], "etcdctl goes through the members that stay");
  assert.match(p.actions.map(describeAction).join("\n"), /master4: etcdctl member remove, through master1, master2, master3/);
});

test("a control plane that is already gone: no on-host step, the rest from the hosts that stay, and a note saying so", () => {
  const p = planRemoval(cluster(LAB4), without(LAB4, ["master4"]), ["master4"], new Set(), { drainTimeoutSeconds: 120 });
  assert.deepEqual(p.actions.map((a) => a.kind), ["drain", "converge-lb", "etcd-remove", "delete-node", "hosts-file", "forget"]);
  assert.equal(p.notes.length, 1);
  assert.match(p.notes[0]!, /master4 \(198\.18\.72\.14\) does not answer over SSH: nothing is run on it/);
});

test("stacked etcd: the member is removed through the remaining control planes; no etcd unit to stop", () => {
  const t: Topology = { etcd: "stacked", hosts: [1, 2, 3, 4].map((i) => ({ name: `m${i}`, roles: ["control-plane", "lb"] })) };
  const p = planRemoval(cluster(t), without(t, ["m4"]), ["m4"], new Set(["m4"]), { drainTimeoutSeconds: 120 });
  assert.deepEqual(p.actions.map((a) => a.kind), ["drain", "hand-over-vip", "stop-lb", "converge-lb", "etcd-remove", "reset", "delete-node", "hosts-file", "forget"]);
});

test("etcdMemberRemoveCommand: the member's hex id through the remaining members, with kubeha's client certificate", () => {
  const c = cluster(LAB4);
  const after = without(LAB4, ["master4"]);
  const members: EtcdMember[] = [
    { id: "10501334649042878790", name: "master1", peerURLs: ["https://198.18.72.11:2380"], clientURLs: [] },
    { id: "17237436991929493444", name: "master4", peerURLs: ["https://198.18.72.14:2380"], clientURLs: [] },
  ];
  const m4 = c.hosts.find((h) => h.name === "master4")!;
  const m = memberOf(c, m4, members);
  assert.equal(m?.name, "master4");
  const cmd = etcdMemberRemoveCommand(after, after.hosts.filter((h) => h.roles.includes("etcd")), m!.id);
  assert.ok(cmd.endsWith(` member remove ${BigInt("17237436991929493444").toString(16)}`), cmd);
  assert.match(cmd, /--endpoints=https:\/\/198\.18\.72\.11:2379,https:\/\/198\.18\.72\.12:2379,https:\/\/198\.18\.72\.13:2379 /);
  assert.doesNotMatch(cmd, /198\.18\.72\.14/, "never through the member being removed");
  assert.match(cmd, /--cert=\S+healthcheck-client\.crt/);
  assert.equal(memberOf(c, m4, members.slice(0, 1)), undefined, "no member any more: nothing to remove");
  // A member started under the host's name from another address is still that host's member.
  assert.equal(memberOf(c, m4, [{ id: "1", name: "master4", peerURLs: ["https://10.0.0.9:2380"], clientURLs: [] }])?.id, "1");
});

test("the cluster file without a host: comments and the other entries kept; the entry's lines named", () => {
  const src = text(LAB);
  const lines = hostEntryLines(src, ["worker2", "nope"]);
  assert.deepEqual(lines.map((l) => l.name), ["worker2"]);
  const srcLines = src.split("\n");
  assert.equal(srcLines[lines[0]!.from - 1], "    - name: worker2");
  assert.match(srcLines[lines[0]!.to - 1]!, /roles: \[worker\]/);
  const out = removeHostsFromText(src, ["worker2"]);
  assert.doesNotMatch(out, /worker2/);
  for (const kept of ["# the cluster", "# host master1", "# host worker1", "    - name: worker1", 'version: "1.34.2"']) assert.ok(out.includes(kept), `kept: ${kept}\n${out}`);
  const c = cluster(out);
  assert.deepEqual(c.hosts.map((h) => h.name), ["master1", "master2", "master3", "worker1"]);
  // Flow-style entries (the examples' layout) keep their style too.
  const flow = "# top\napiVersion: kubeha.dev/v1alpha1\nkind: Cluster\nmetadata: { name: f }\nspec:\n  hosts:\n    - { name: a, address: 198.18.72.11, roles: [control-plane, lb] } # first\n    - { name: b, address: 198.18.72.12, roles: [worker] } # second\n";
  assert.deepEqual(hostEntryLines(flow, ["b"]), [{ name: "b", from: 8, to: 8 }]);
  const f2 = removeHostsFromText(flow, ["b"]);
  assert.match(f2, /# top/);
  assert.match(f2, /- \{ name: a, address: 198\.18\.72\.11, roles: \[ control-plane, lb \] \} # first|- \{ name: a, address: 198\.18\.72\.11, roles: \[control-plane, lb\] \} # first/);
  assert.doesNotMatch(f2, /name: b/);
});

test("managed hosts: an apply keeps hosts that left the file until node remove; plan's notice names the command", () => {
  const c = cluster(LAB);
  const recorded = mergeManaged([], c);
  assert.deepEqual(recorded.map((h) => h.name), ["master1", "master2", "master3", "worker1", "worker2"]);
  assert.ok(!("lbIndex" in recorded[0]!), "derived fields are not recorded");
  const smaller = without(LAB, ["worker2"]);
  const former = formerHosts(recorded, smaller);
  assert.deepEqual(former.map((h) => h.name), ["worker2"]);
  assert.deepEqual(mergeManaged(recorded, smaller).map((h) => h.name), ["master1", "master2", "master3", "worker1", "worker2"], "an apply without it does not forget it");
  assert.match(formerHostNotice(former[0]!, "c.yaml"), /^worker2 \(198\.18\.72\.15, worker\) was managed before, no longer in the file — run `kubeha node remove c\.yaml worker2`/);
  // A recorded host becomes a file entry again (to plan its removal) with the same normalized values.
  const entry = hostEntryOf(former[0]!);
  const data = readYaml(removeHostsFromText(text(LAB), ["worker2"])).data as ClusterFile;
  const back = normalize({ ...data, spec: { ...data.spec, hosts: [...data.spec.hosts, entry] } }, { sourcePath: "/tmp/rm-test/cluster.yaml" });
  assert.deepEqual(back.hosts.at(-1), c.hosts.at(-1));
});
