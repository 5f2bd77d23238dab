/**
 * The controller-manager and scheduler leaders in `kubeha status`: the `@@leases` section a control
 * plane prints (its clock, then `kubectl get --raw` of the Lease list) parsed, judged (an expired or
 * missing Lease is a problem; nothing readable is a warning) and rendered, in text and in JSON that
 * follows status.schema.json.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv } from "ajv";
import { parseCluster } from "../../src/spec/read.ts";
import { evaluate, parseStatus, renderStatus, statusScript, type Observations } from "../../src/probe/status.ts";
import { evaluateLeaders, HANDOVER_GRACE_S, holderHost, parseLeases, shortDuration } from "../../src/probe/leaders.ts";

const DIR = fileURLToPath(new URL("./fixtures/", import.meta.url));
const REPO = fileURLToPath(new URL("../..", import.meta.url));
const parsed = parseCluster(readFileSync(join(DIR, "cluster.yaml"), "utf8"), { sourcePath: join(DIR, "cluster.yaml") });
assert.ok(parsed.cluster, JSON.stringify(parsed.problems));
const cluster = parsed.cluster;
const MASTERS = ["master1", "master2", "master3"];
const validate = new Ajv({ allErrors: true, strict: true }).compile(JSON.parse(readFileSync(join(REPO, "status.schema.json"), "utf8")));

const NOW = Date.parse("2026-06-01T12:00:00Z") / 1000;
const at = (secondsBefore: number) => new Date((NOW - secondsBefore) * 1000).toISOString().replace("Z", "000Z");
const lease = (name: string, holder: string, acquiredAgo: number, renewedAgo: number, transitions = 0) => ({
  apiVersion: "coordination.k8s.io/v1",
  kind: "Lease",
  metadata: { name, namespace: "kube-system", resourceVersion: "7" },
  spec: { holderIdentity: holder, leaseDurationSeconds: 15, acquireTime: at(acquiredAgo), renewTime: at(renewedAgo), leaseTransitions: transitions },
});
const CM = "master2_6f1d1c2e-7d0b-4a55-9a0e-1c9d9a1f2b3c";
const SCHED = "master3_0b7d8a6e-2c1f-4e0e-8d52-5a7f9c3e1d20";
const section = (items: unknown[], now = NOW) => `@@leases\n${now.toFixed(6)}\n${JSON.stringify({ kind: "LeaseList", apiVersion: "coordination.k8s.io/v1", items })}\n`;

function observe(leases: Record<string, string>): Observations {
  const hosts: Observations["hosts"] = {};
  for (const m of MASTERS) {
    const base = readFileSync(join(DIR, `healthy-${m}.txt`), "utf8");
    hosts[m] = { output: leases[m] === undefined ? base : base.replace("@@end", leases[m] + "@@end") };
  }
  return { hosts, certificates: [], now: NOW * 1000 };
}

test("the script reads the Leases on control planes only, read-only, bounded", () => {
  const cp = statusScript(cluster, cluster.hosts[0]!);
  assert.match(cp, /echo "@@leases"; date \+%s\.%N; timeout 6 kubectl --kubeconfig=\/etc\/kubernetes\/admin\.conf get --raw \/apis\/coordination\.k8s\.io\/v1\/namespaces\/kube-system\/leases/);
  const worker = cluster.hosts.find((h) => !h.roles.includes("control-plane"));
  if (worker) assert.doesNotMatch(statusScript(cluster, worker), /@@leases/);
});

test("leaders held and renewed: shown in text and JSON, no problem", () => {
  const out = section([lease("kube-controller-manager", CM, 125, 1.5, 2), lease("kube-scheduler", SCHED, 40, 0.2), lease("plndr-cp-lock", "master1", 10, 1)]);
  const r = evaluate(cluster, observe({ master1: out, master2: out }));
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.leaders, [
    { component: "kube-controller-manager", lease: "kube-system/kube-controller-manager", readFrom: "master1", leaderless: false, holder: CM, host: "master2", heldForSeconds: 125, renewedAgoSeconds: 1.5, leaseDurationSeconds: 15, transitions: 2 },
    { component: "kube-scheduler", lease: "kube-system/kube-scheduler", readFrom: "master1", leaderless: false, holder: SCHED, host: "master3", heldForSeconds: 40, renewedAgoSeconds: 0.2, leaseDurationSeconds: 15, transitions: 0 },
  ]);
  assert.ok(validate(JSON.parse(JSON.stringify(r))), JSON.stringify(validate.errors));
  const text = renderStatus(r);
  assert.match(text, /COMPONENT\s+LEADER\s+HELD FOR\s+RENEWED\s+LEASE\s+TRANSITIONS/);
  assert.match(text, /kube-controller-manager\s+master2\s+2m05s\s+1s ago\s+15s\s+2/);
  assert.match(text, /kube-scheduler\s+master3\s+40s\s+0s ago\s+15s\s+0/);
});

test("an expired Lease and a missing one are problems that name the component and the last holder", () => {
  const out = section([lease("kube-controller-manager", CM, 300, 27.4, 3)]);
  const r = evaluate(cluster, observe({ master1: out }));
  assert.equal(r.healthy, false);
  assert.deepEqual(r.problems, [
    "no kube-controller-manager leader: its Lease kube-system/kube-controller-manager expired 12 s ago (last held by master2): no kube-controller-manager instance renews it",
    "no kube-scheduler leader: there is no Lease kube-system/kube-scheduler (no kube-scheduler ever ran leader election; is it running on the control planes?)",
  ]);
  assert.equal(r.leaders[0]!.leaderless, true);
  assert.equal(r.leaders[1]!.leaderless, true);
  assert.ok(validate(JSON.parse(JSON.stringify(r))), JSON.stringify(validate.errors));
  assert.match(renderStatus(r), /kube-controller-manager\s+NONE \(expired; was master2\)/);
  // Held again by someone (renewed within its duration): no problem.
  const again = evaluate(cluster, observe({ master1: section([lease("kube-controller-manager", CM, 300, 14.9), lease("kube-scheduler", SCHED, 1, 1)]) }));
  assert.deepEqual(again.problems, []);
});

test("a Lease expired within the handover grace (followers take it at their next retry) is a warning; past it, a problem", () => {
  // renewed 15 + 9 s ago: 9 s past expiry, inside HANDOVER_GRACE_S (10 s: a follower may see the last renewal one jittered retry late and take the Lease one retry after its own expiry)
  const inside = evaluate(cluster, observe({ master1: section([lease("kube-controller-manager", CM, 300, 24), lease("kube-scheduler", SCHED, 1, 1)]) }));
  assert.equal(HANDOVER_GRACE_S, 10);
  assert.deepEqual(inside.problems, []);
  assert.equal(inside.healthy, true);
  assert.equal(inside.leaders[0]!.leaderless, true);
  assert.match(inside.warnings.join("\n"), /kube-controller-manager leader changing hands: its Lease kube-system\/kube-controller-manager expired 9 s ago \(last held by master2\); a follower takes it at its next retry \(within 10 s of expiry\)/);
  const past = evaluate(cluster, observe({ master1: section([lease("kube-controller-manager", CM, 300, 26.5), lease("kube-scheduler", SCHED, 1, 1)]) }));
  assert.equal(past.healthy, false);
  assert.match(past.problems.join("\n"), /no kube-controller-manager leader: its Lease kube-system\/kube-controller-manager expired 12 s ago/);
});

test("kubectl failing on one control plane: the next one's reading is used; failing on all: a warning, not a problem", () => {
  const broken = "@@leases\n1780315200.000000\nThe connection to the server 198.18.0.100:8443 was refused - did you specify the right host or port?\n\n";
  const good = section([lease("kube-controller-manager", CM, 5, 1), lease("kube-scheduler", SCHED, 5, 1)]);
  const r = evaluate(cluster, observe({ master1: broken, master2: good, master3: broken }));
  assert.deepEqual(r.problems, []);
  assert.equal(r.leaders[0]!.readFrom, "master2");
  const none = evaluate(cluster, observe({ master1: broken, master2: broken, master3: broken }));
  assert.deepEqual(none.leaders, []);
  assert.deepEqual(none.problems, []);
  assert.match(none.warnings.join("\n"), /controller-manager and scheduler leaders unknown: master1: kubectl could not list the Leases: The connection to the server .* was refused/);
  assert.deepEqual(parseStatus(broken + "@@end\n").leases, { error: "kubectl could not list the Leases: The connection to the server 198.18.0.100:8443 was refused - did you specify the right host or port?" });
  // Outputs without the section (older kubeha, hosts without a control plane): no leaders, nothing said.
  const old = evaluate(cluster, observe({}));
  assert.deepEqual([old.leaders, old.problems, old.warnings], [[], [], []]);
});

test("helpers: holder host, durations, a clock that is not a number", () => {
  assert.equal(holderHost("cp-1_6f1d1c2e-7d0b-4a55-9a0e-1c9d9a1f2b3c"), "cp-1");
  assert.deepEqual([shortDuration(undefined), shortDuration(9.9), shortDuration(75), shortDuration(7322)], ["-", "9s", "1m15s", "2h02m"]);
  assert.deepEqual(parseLeases(["", "{}"]), { error: "no clock reading (empty)" });
  const problems: string[] = [];
  assert.deepEqual(evaluateLeaders([], problems, []), []);
  assert.deepEqual(problems, []);
});
