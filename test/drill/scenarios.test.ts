/** The drill's pure parts: scenario plans, partition commands, the seed comparison and the text summary. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { parseCluster } from "../../src/spec/read.ts";
import type { Cluster } from "../../src/spec/model.ts";
import { healCommand, parseScenarios, partitionCommand, planScenario, scenariosFor, PARTITION_PREF } from "../../src/drill/scenarios.ts";
import { comparisonRows, distributionRows } from "../../src/drill/compare.ts";
import { renderDrillSummary } from "../../src/drill/summary.ts";
import { fillTemplate } from "../../src/drill/machines.ts";
import { parseAddrLine, watchCommand } from "../../src/drill/watch.ts";
import { SCENARIOS, type DrillReport, type ScenarioFigures, type ScenarioResult } from "../../src/drill/types.ts";
import { UsageError } from "../../src/errors.ts";
import { kubeha, REPO } from "../helpers/cli.ts";

function example(name: string): Cluster {
  const r = parseCluster(readFileSync(join(REPO, "examples", name), "utf8"), { home: "/h" });
  assert.ok(r.cluster, JSON.stringify(r.problems));
  return r.cluster;
}
const colocated = example("seed-002-colocated-16443.yaml"); // 3 masters with LB, stacked etcd
const external = example("seed-001-external-etcd-2lbs.yaml"); // 2 LB hosts, external etcd on masters

test("every scenario plans on a healthy colocated cluster: faults target the right machines, restores undo them", () => {
  const snap = { vipHolders: ["server8-node1"], etcdLeader: "server9-node2", leaders: { "kube-controller-manager": "server9-node2" } };
  assert.deepEqual(scenariosFor(colocated), SCENARIOS.filter((n) => n !== "kube-vip-crash"));
  for (const name of scenariosFor(colocated)) {
    const p = planScenario(colocated, name, snap);
    assert.equal(p.scenario, name);
    assert.ok(p.inject.length > 0 && p.restore.length > 0, name);
    assert.ok(p.fault && p.expectation, name);
    assert.ok(p.targetsFor("kubeha").some((t) => /no acknowledged etcd write lost/.test(t.name)), `${name}: zero loss judged`);
    assert.ok(p.targetsFor("seed-002").every((t) => !/blackout/i.test(t.name)), `${name}: seeds are measured, not judged on timing`);
  }
  assert.deepEqual(planScenario(colocated, "lb-haproxy-dies", snap).targets, ["server8-node1"]);
  assert.deepEqual(planScenario(colocated, "lb-machine-down", snap).inject, [{ kind: "power-off", host: "server8-node1" }]);
  assert.equal(planScenario(colocated, "lb-machine-down", snap).needsPower, true);
  // apiserver-down never picks the VIP holder.
  assert.deepEqual(planScenario(colocated, "apiserver-down", snap).targets, ["server7-master"]);
  // etcd: the leader first; stacked members are static pods (manifest parked), quorum loss = 2 of 3.
  const em = planScenario(colocated, "etcd-member-down", snap);
  assert.deepEqual(em.targets, ["server9-node2"]);
  assert.match((em.inject[0] as { command: string }).command, /mv \/etc\/kubernetes\/manifests\/etcd\.yaml /);
  assert.equal(planScenario(colocated, "etcd-quorum-loss", snap).targets.length, 2);
  assert.equal(planScenario(colocated, "etcd-quorum-loss", snap).targets[0], "server9-node2");
  assert.equal(planScenario(colocated, "lb-keepalived-crash", snap).statusDegraded, false);
  assert.match(planScenario(colocated, "lb-partition", snap).expectation, /API is EXPECTED to fail until healed/);
  assert.doesNotMatch(planScenario(external, "lb-partition", { vipHolders: ["lb01"] }).expectation, /EXPECTED/, "dedicated LB hosts: only the VIP is split");
  assert.equal(planScenario(colocated, "lb-haproxy-dies", snap).statusDegraded, true);
});

test("external etcd members are stopped as systemd units; the LB scenarios act on the LB hosts", () => {
  const snap = { vipHolders: ["lb02"], etcdLeader: "master02" };
  const em = planScenario(external, "etcd-member-down", snap);
  assert.deepEqual(em.inject, [{ kind: "run", host: "master02", what: "stop etcd.service", command: "systemctl stop etcd.service" }]);
  assert.deepEqual(planScenario(external, "lb-partition", snap).targets, ["lb01", "lb02"]);
  assert.deepEqual(planScenario(external, "apiserver-down", snap).targets, ["master01"]);
});

test("plans refuse what cannot be measured: no single VIP holder, no VIP, too few members", () => {
  assert.throws(() => planScenario(colocated, "lb-haproxy-dies", { vipHolders: [] }), (e: unknown) => e instanceof UsageError && /exactly one VIP holder/.test(e.message));
  assert.throws(() => planScenario(colocated, "lb-haproxy-dies", { vipHolders: ["server7-master", "server8-node1"] }), /found server7-master, server8-node1/);
  const proxy = example("seed-000-single-proxy.yaml");
  assert.throws(() => planScenario(proxy, "lb-partition", { vipHolders: [] }), /endpoint mode haproxy/);
});

const kubeVip = parseCluster(
  `apiVersion: kubeha.dev/v1alpha1
kind: Cluster
metadata: { name: kv }
spec:
  ssh: { user: root, keyPath: /k }
  hosts:
    - { name: master1, address: 198.18.66.11, roles: [control-plane, etcd], interface: host0 }
    - { name: master2, address: 198.18.66.12, roles: [control-plane, etcd], interface: host0 }
    - { name: master3, address: 198.18.66.13, roles: [control-plane, etcd], interface: host0 }
    - { name: worker1, address: 198.18.66.14, roles: [worker], interface: host0 }
  controlPlaneEndpoint: { mode: kube-vip, vip: 198.18.66.100 }
  etcd: { mode: external }
`,
  { home: "/h" },
).cluster!;

test("kube-vip endpoint: the haproxy-free scenarios, aimed at the control plane holding the VIP, with kube-vip's timing in the targets", () => {
  assert.deepEqual(scenariosFor(kubeVip), ["lb-machine-down", "kube-vip-crash", "apiserver-down", "controller-manager-leader-down", "etcd-member-down", "etcd-quorum-loss"]);
  assert.deepEqual(scenariosFor(example("seed-000-single-proxy.yaml")), ["apiserver-down", "controller-manager-leader-down", "etcd-member-down", "etcd-quorum-loss"]);
  const snap = { vipHolders: ["master2"], etcdLeader: "master3", leaders: { "kube-controller-manager": "master1" } };
  for (const name of scenariosFor(kubeVip)) {
    const p = planScenario(kubeVip, name, snap);
    assert.ok(p.inject.length > 0 && p.restore.length > 0, name);
    assert.doesNotMatch(`${p.fault} ${p.expectation} ${JSON.stringify(p.inject)}`, /haproxy|keepalived|HAProxy/, `${name} mentions no LB daemon`);
  }
  const down = planScenario(kubeVip, "lb-machine-down", snap);
  assert.deepEqual(down.inject, [{ kind: "power-off", host: "master2" }]);
  const blackout = down.targetsFor("kubeha").find((t) => /blackout/.test(t.name))!;
  assert.equal(blackout.name, "API blackout ≤ 10000 ms", "Lease 5 s + two retries of 1 s + probe timeout 1 s + etcd election 2 s");
  assert.match(down.expectation, /once it expires \(5 s\)/);
  const crash = planScenario(kubeVip, "kube-vip-crash", snap);
  assert.deepEqual(crash.targets, ["master2"]);
  assert.deepEqual(crash.inject, [{ kind: "run", host: "master2", what: "SIGKILL kube-vip", command: "pkill -KILL -x kube-vip" }]);
  assert.equal(crash.hold.until, "single-holder");
  assert.equal(crash.statusDegraded, false);
  assert.deepEqual(crash.targetsFor("kubeha").map((t) => t.name).slice(0, 3), ["API blackout ≤ 1000 ms", "the VIP moved to another machine", "one VIP holder again before the restore"]);
  execFileSync("sh", ["-n", "-c", (crash.restore[0] as { command: string }).command]);
  // apiserver-down stops an apiserver whose machine does not hold the VIP.
  assert.deepEqual(planScenario(kubeVip, "apiserver-down", snap).targets, ["master1"]);
  assert.match(planScenario(kubeVip, "apiserver-down", snap).expectation, /VIP holder's apiserver keeps serving/);
  for (const name of ["lb-haproxy-dies", "lb-keepalived-crash", "lb-partition"] as const) {
    assert.throws(() => planScenario(kubeVip, name, snap), (e: unknown) => e instanceof UsageError && /uses endpoint mode kube-vip/.test(e.message) && /lb-machine-down, kube-vip-crash/.test(e.hint ?? ""), name);
  }
  assert.throws(() => planScenario(colocated, "kube-vip-crash", { vipHolders: ["server8-node1"] }), /tests kube-vip endpoints/);
});

test("partition: blackhole both directions to every peer address and strict rp_filter; heal removes exactly those rules", () => {
  const [a, b, c] = colocated.hosts;
  const cmd = partitionCommand(a!, [a!, b!, c!]);
  for (const peer of [b!, c!]) {
    assert.ok(cmd.includes(`ip rule add pref ${PARTITION_PREF} to ${peer.internalAddress}/32 blackhole`));
    assert.ok(cmd.includes(`ip rule add pref ${PARTITION_PREF} from ${peer.internalAddress}/32 blackhole`));
  }
  assert.ok(!cmd.includes(`${a!.internalAddress}/32`), "never cuts a host from itself");
  assert.match(cmd, /echo 2 > \/proc\/sys\/net\/ipv4\/conf\/ens37\/rp_filter/);
  const heal = healCommand(a!);
  assert.match(heal, new RegExp(`ip rule del pref ${PARTITION_PREF}`));
  assert.match(heal, /seq 1 200/, "bounded loop");
  for (const script of [cmd, heal]) execFileSync("sh", ["-n", "-c", script]);
});

test("--scenario: comma lists and repeats, duplicates dropped, unknown names are usage errors naming the known ones", () => {
  assert.deepEqual(parseScenarios([], SCENARIOS), [...SCENARIOS]);
  assert.deepEqual(parseScenarios([], SCENARIOS, ["apiserver-down"]), ["apiserver-down"], "no --scenario: the default given");
  assert.deepEqual(parseScenarios(["kube-vip-crash"], SCENARIOS, ["apiserver-down"]), ["kube-vip-crash"]);
  assert.deepEqual(parseScenarios(["apiserver-down,lb-haproxy-dies", "apiserver-down"], SCENARIOS), ["apiserver-down", "lb-haproxy-dies"]);
  assert.throws(() => parseScenarios(["lb-haproxy-die"], SCENARIOS), (e: unknown) => e instanceof UsageError && /lb-haproxy-dies/.test(e.hint ?? ""));
});

test("VIP watcher lines: adds and deletes of the VIP only; the command is quoted", () => {
  const vip = "198.18.2.199";
  assert.equal(parseAddrLine(`2: ens37    inet ${vip}/24 scope global secondary ens37\\       valid_lft forever`, vip), "add");
  assert.equal(parseAddrLine(`Deleted 2: ens37    inet ${vip}/24 scope global secondary ens37`, vip), "del");
  assert.equal(parseAddrLine(`2: ens37    inet ${vip}9/24 scope global ens37`, vip), undefined, "a longer address is not the VIP");
  assert.equal(parseAddrLine(`2: ens37    inet 198.18.2.207/24 scope global ens37`, vip), undefined);
  assert.match(watchCommand(colocated.hosts[0]!), /^ip -o -4 addr show dev ens37; echo @@ready; exec ip -o -4 monitor address dev ens37$/);
  assert.equal(fillTemplate("virsh destroy {host} # {address}", { ...colocated.hosts[0]!, name: "a b" }), "virsh destroy 'a b' # 198.18.2.207");
});

const figs = (over: Partial<ScenarioFigures>): ScenarioFigures => ({
  blackoutMs: 0, failedProbes: 0, totalProbes: 100, vipMovedMs: null, splitBrainMs: 0, healthyAfterMs: 1000, etcdAcked: 10, etcdFailed: 0, etcdLost: 0, ...over,
});
const result = (profile: ScenarioResult["profile"], f: ScenarioFigures, over: Partial<ScenarioResult> = {}): ScenarioResult => ({
  scenario: "lb-haproxy-dies", profile, run: 1, persistent: null, targets: ["m1"], fault: "f", expectation: "e", startedAt: "2026-01-01T00:00:00Z", durationMs: 1, samples: [], writes: [], vip: [], marks: [], figures: f, checks: [], problems: [], ...over,
});

test("comparison: ratio = seed / kubeha, with notes for zero and missing values; scenarios that did not run are left out", () => {
  const rows = comparisonRows([
    result("kubeha", figs({ blackoutMs: 300, vipMovedMs: 400, failedProbes: 0 })),
    result("seed-002", figs({ blackoutMs: 8700, vipMovedMs: null, failedProbes: 12 })),
    result("seed-004", figs({ totalProbes: 0 })),
  ]);
  const get = (f: string) => rows.find((r) => r.figure === f)!;
  assert.equal(rows.length, 5, "one profile x five figures");
  assert.equal(get("blackoutMs").ratio, 29);
  assert.equal(get("vipMovedMs").ratio, null);
  assert.equal(get("vipMovedMs").note, "seed: none");
  assert.equal(get("failedProbes").note, "kubeha 0, seed 12");
  assert.equal(get("splitBrainMs").note, "both 0");
});

test("summary: a row per scenario, failed checks and problems listed, the stand-in note first", () => {
  const report: DrillReport = {
    version: 1, cluster: "c", endpoint: "vip:8443", startedAt: "a", finishedAt: "b", probe: { from: "here", path: "/readyz", rateHz: 50, timeoutMs: 1000, etcdIntervalMs: 20 }, persistentClients: null,
    standIn: "STAND-INS for testing",
    runs: 1,
    distributions: [],
    scenarios: [
      result("kubeha", figs({ blackoutMs: 1200 }), { checks: [{ name: "API blackout ≤ 1000 ms", ok: false, detail: "1200 ms" }] }),
      result("kubeha", figs({}), { scenario: "apiserver-down", problems: ["restore failed"] }),
    ],
    comparison: [],
  };
  const s = renderDrillSummary(report);
  assert.match(s.split("\n")[0]!, /^STAND-IN control plane: STAND-INS for testing/);
  assert.match(s, /lb-haproxy-dies\s+kubeha\s+1200\s+0\/100 .*FAIL/);
  assert.match(s, /Not met:\n  lb-haproxy-dies \[kubeha\]: API blackout ≤ 1000 ms: 1200 ms\n  apiserver-down \[kubeha\]: restore failed/);
});

test("--runs: distributions per scenario, profile and figure; the comparison uses each side's p50; the summary prints both", () => {
  const runs = [300, 500, 100].map((b, i) => result("kubeha", figs({ blackoutMs: b, vipMovedMs: i === 0 ? null : 200 }), { run: i + 1 }));
  const seeds = [5000, 9000, 7000].map((b, i) => result("seed-002", figs({ blackoutMs: b }), { run: i + 1 }));
  const dist = distributionRows([...runs, ...seeds]);
  const d = (profile: string, figure: string) => dist.find((x) => x.profile === profile && x.figure === figure)!.dist;
  assert.deepEqual(d("kubeha", "blackoutMs"), { n: 3, min: 100, p50: 300, p95: 500, max: 500 });
  assert.deepEqual(d("kubeha", "vipMovedMs"), { n: 2, min: 200, p50: 200, p95: 200, max: 200 }, "a run where the VIP never moved has no value");
  assert.equal(d("seed-002", "vipMovedMs"), null);
  assert.equal(dist.length, 2 * 6, "two profiles x six figures");
  const cmp = comparisonRows([...runs, ...seeds]);
  assert.equal(cmp.length, 5, "one row per figure, not one per pair of runs");
  const blackout = cmp.find((r) => r.figure === "blackoutMs")!;
  assert.deepEqual([blackout.kubeha, blackout.seed, blackout.ratio], [300, 7000, 23.33]);

  const report: DrillReport = {
    version: 1, cluster: "c", endpoint: "vip:8443", startedAt: "a", finishedAt: "b", probe: { from: "here", path: "/readyz", rateHz: 50, timeoutMs: 1000, etcdIntervalMs: 20 }, persistentClients: null,
    standIn: null, runs: 3, scenarios: [...runs, ...seeds], distributions: dist, comparison: cmp,
  };
  const s = renderDrillSummary(report);
  assert.match(s, /lb-haproxy-dies\s+kubeha\s+2\/3\s+500\s/);
  assert.match(s, /Distribution over 3 runs \(min \/ p50 \/ p95 \/ max; nearest-rank/);
  assert.match(s, /lb-haproxy-dies\s+kubeha\s+blackoutMs\s+3\s+100 \/ 300 \/ 500 \/ 500\n/);
  assert.match(s, /lb-haproxy-dies\s+seed-002\s+vipMovedMs\s+0\s+-\n/);
  assert.match(s, /each side's p50 over 3 runs/);
});

test("kubeha drill: --help with examples; bad usage exits 2 with a hint before touching anything", () => {
  const help = kubeha(["drill", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: kubeha drill FILE/);
  assert.match(help.stdout, /Examples:\n  kubeha drill /);
  for (const name of SCENARIOS) assert.ok(help.stdout.includes(name), name);
  const file = join(REPO, "examples", "seed-002-colocated-16443.yaml");
  for (const [args, msg] of [
    [[], /exactly one cluster file/],
    [[file, "--scenario", "nope"], /unknown scenario "nope"/],
    [[file, "--report", "out.txt"], /--report must name an .html file/],
    [[file, "--power-off", "x {host}"], /--power-off and --power-on go together/],
    [[file, "--compare", "friends"], /--compare only knows "seeds"/],
    [[file, "--rate", "0"], /--rate must be a number from 1 to 200/],
    [[file, "--runs", "0"], /--runs must be a number from 1 to 100/],
    [[file, "--runs", "2.5"], /--runs must be a whole number/],
  ] as const) {
    const r = kubeha(["drill", ...args]);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, msg);
  }
  const kv = kubeha(["drill", join(REPO, "test/render/fixtures/kube-vip-1-30-bundle.yaml"), "--compare", "seeds"]);
  assert.equal(kv.code, 2);
  assert.match(kv.stderr, /--compare seeds swaps HAProxy\/keepalived configurations, but cluster kvip uses endpoint mode kube-vip/);
});

test("controller-manager-leader-down: stops the Lease holder (static pod parked, or its unit in binary mode), read from another control plane", async () => {
  const { LEADER_TAKEOVER_MS } = await import("../../src/drill/scenarios.ts");
  const snap = { vipHolders: ["server8-node1"], leaders: { "kube-controller-manager": "server9-node2" } };
  const p = planScenario(colocated, "controller-manager-leader-down", snap);
  assert.deepEqual(p.targets, ["server9-node2"]);
  assert.deepEqual(p.inject, [{ kind: "run", host: "server9-node2", what: "stop the kube-controller-manager static pod",
    command: "mkdir -p /etc/kubeha/parked-manifests && mv /etc/kubernetes/manifests/kube-controller-manager.yaml /etc/kubeha/parked-manifests/kube-controller-manager.yaml" }]);
  assert.deepEqual(p.restore.map((a) => a.kind === "run" && a.command), ["test -e /etc/kubernetes/manifests/kube-controller-manager.yaml || mv /etc/kubeha/parked-manifests/kube-controller-manager.yaml /etc/kubernetes/manifests/kube-controller-manager.yaml"]);
  assert.equal(p.lease?.component, "kube-controller-manager");
  assert.equal(p.lease?.before, "server9-node2");
  assert.notEqual(p.lease?.via, "server9-node2", "the Lease is read through another control plane");
  assert.equal(p.hold.until, "leader-moved");
  assert.equal(p.statusDegraded, false, "the stopped leader's Lease looks held until it expires");
  // client-go: lease 15 s + two jittered retries (2 s x 2.2) + 2 s = 25.8 s; the hold outlasts it.
  assert.equal(LEADER_TAKEOVER_MS, 25_800);
  assert.ok((p.hold.atLeastMs ?? 0) > LEADER_TAKEOVER_MS);
  const [moved, afterExpiry] = p.targetsFor("kubeha");
  const ctx = { splitDetectedByStatus: false, singleHolderBeforeRestore: true, takeoverGapMs: 15_400 };
  const f = (leaderMovedMs: number | null): ScenarioFigures => ({ blackoutMs: 0, failedProbes: 0, totalProbes: 10, vipMovedMs: null, splitBrainMs: 0, healthyAfterMs: 100, etcdAcked: 1, etcdFailed: 0, etcdLost: 0, leaderMovedMs });
  assert.deepEqual(moved!.check(f(17_000), ctx), { ok: true, detail: "moved after 17000 ms" });
  assert.equal(moved!.check(f(26_000), ctx).ok, false);
  assert.deepEqual(moved!.check(f(null), ctx), { ok: false, detail: "the Lease did not move" });
  assert.equal(afterExpiry!.check(f(17_000), ctx).ok, true);
  assert.deepEqual(afterExpiry!.check(f(3_000), { ...ctx, takeoverGapMs: 2_100 }), { ok: false, detail: "acquired 2100 ms after the old leader's last renewal seen" });
  assert.equal(afterExpiry!.check(f(3_000), { ...ctx, takeoverGapMs: null }).ok, false);

  // Binary mode: the unit is stopped and started instead.
  const binary = { ...colocated, bootstrap: "binary" as const };
  const b = planScenario(binary, "controller-manager-leader-down", snap);
  assert.deepEqual([b.inject[0]!.kind === "run" && b.inject[0]!.command, b.restore[0]!.kind === "run" && b.restore[0]!.command], ["systemctl stop kube-controller-manager.service", "systemctl start kube-controller-manager.service"]);
  // No leader known (or one that is not a control plane): refused with what to look at.
  for (const leaders of [{}, { "kube-controller-manager": "server10-worker" }]) {
    assert.throws(() => planScenario(colocated, "controller-manager-leader-down", { vipHolders: [], leaders }), (e: unknown) => e instanceof UsageError && /needs a kube-controller-manager leader among the control planes/.test(e.message) && /leaders table/.test(e.hint ?? ""));
  }
});

test("leader figures: time to another holder from its acquireTime; the take-over gap from the old holder's last renewal seen", async () => {
  const { leaderMoved, parseLeaseSample, takeoverGap, leaseCommand } = await import("../../src/drill/leader.ts");
  assert.equal(leaseCommand("kube-controller-manager"), "timeout 5 kubectl --kubeconfig=/etc/kubernetes/admin.conf get --raw /apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-controller-manager");
  const lease = (holder: string, acquire: string, renew: string) => JSON.stringify({ kind: "Lease", spec: { holderIdentity: holder, acquireTime: acquire, renewTime: renew, leaseDurationSeconds: 15 } });
  const fault = Date.parse("2026-06-01T12:00:10.000Z");
  const samples = [
    parseLeaseSample(lease("m2_aaaa", "2026-06-01T11:00:00.000000Z", "2026-06-01T12:00:08.500000Z"), 500)!,
    parseLeaseSample(lease("m2_aaaa", "2026-06-01T11:00:00.000000Z", "2026-06-01T12:00:09.500000Z"), 1500)!,
    parseLeaseSample(lease("m2_aaaa", "2026-06-01T11:00:00.000000Z", "2026-06-01T12:00:09.500000Z"), 9000)!,
    parseLeaseSample(lease("m3_bbbb", "2026-06-01T12:00:27.250000Z", "2026-06-01T12:00:27.250000Z"), 19_800)!,
  ];
  assert.equal(samples[0]!.host, "m2");
  assert.equal(parseLeaseSample("The connection to the server was refused", 1), undefined);
  // fault at t = 2000 on the scenario clock, 12:00:10.000 on the wall clock.
  assert.equal(leaderMoved(samples, "m2", 2000, fault), 17_250, "from the new holder's acquireTime, not from when the poller saw it");
  assert.equal(takeoverGap(samples, "m2"), 17_750);
  const noAcquire = samples.map((s) => ({ t: s.t, holder: s.holder, host: s.host }));
  assert.equal(leaderMoved(noAcquire, "m2", 2000, fault), 17_800, "without acquireTime: when the poller saw it");
  assert.equal(takeoverGap(noAcquire, "m2"), null);
  assert.equal(leaderMoved(samples.slice(0, 3), "m2", 2000, fault), null);
});
