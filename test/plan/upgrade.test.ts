/** Version upgrades (pure): the skew rules as a table, and the node order decided from versions read from the hosts. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseCluster } from "../../src/spec/read.ts";
import type { Cluster } from "../../src/spec/model.ts";
import { checkKubeadm, checkSkew, describeUpgrade, parseVersion, planUpgrade, upgradeDone, type NodeVersions, type SkewRule } from "../../src/plan/upgrade.ts";
import { setServerStateCommand } from "../../src/ops/haproxy-drain.ts";
import { parseGitVersion, parseKubeletVersions } from "../../src/ops/upgrade.ts";

function cluster(version: string, workers = 3): Cluster {
  const host = (name: string, i: number, roles: string) => `    - { name: ${name}, address: 198.18.77.${i}, roles: [${roles}] }`;
  const yaml = [
    "apiVersion: kubeha.dev/v1alpha1",
    "kind: Cluster",
    "metadata: { name: up }",
    "spec:",
    "  hosts:",
    host("m1", 11, "control-plane, etcd, lb"),
    host("m2", 12, "control-plane, etcd, lb"),
    host("m3", 13, "control-plane, etcd, lb"),
    ...Array.from({ length: workers }, (_, i) => host(`w${i + 1}`, 21 + i, "worker")),
    "  controlPlaneEndpoint: { mode: haproxy-keepalived, vip: 198.18.77.100 }",
    "  etcd: { mode: external }",
    `  kubernetes: { version: ${version} }`,
  ].join("\n");
  const r = parseCluster(yaml, { home: "/h", sourcePath: "/tmp/up/cluster.yaml" });
  assert.ok(r.cluster, JSON.stringify(r.problems));
  return r.cluster;
}

/** Every node at `cp` (apiservers) and `kubelet`, with overrides per host. */
function nodes(cp: string, kubelet: string, over: Record<string, Partial<NodeVersions>> = {}, workers = 3): NodeVersions[] {
  const names = ["m1", "m2", "m3", ...Array.from({ length: workers }, (_, i) => `w${i + 1}`)];
  return names.map((host) => {
    const controlPlane = host.startsWith("m");
    return { host, controlPlane, kubelet: `v${kubelet}`, kubeadm: `v${cp}`, ...(controlPlane ? { apiserver: `v${cp}-standin` } : {}), ...over[host] };
  });
}

test("versions: v prefix, pre-release and build suffixes are read; other text is not a version", () => {
  assert.deepEqual(parseVersion("v1.34.2-standin"), { major: 1, minor: 34, patch: 2 });
  assert.deepEqual(parseVersion("1.35.0"), { major: 1, minor: 35, patch: 0 });
  assert.deepEqual(parseVersion("v1.30.1+k3s1"), { major: 1, minor: 30, patch: 1 });
  for (const bad of ["", "1.35", "latest", "v1.x.0", undefined]) assert.equal(parseVersion(bad), undefined, String(bad));
});

const SKEW_TABLE: Array<{ name: string; target: string; cp: string; kubelet: string; over?: Record<string, Partial<NodeVersions>>; rules: SkewRule[]; hosts?: string[]; says?: RegExp }> = [
  { name: "next minor from a uniform cluster", target: "1.35.0", cp: "1.34.2", kubelet: "1.34.2", rules: [] },
  { name: "a patch release", target: "1.34.5", cp: "1.34.2", kubelet: "1.34.2", rules: [] },
  { name: "the same version (nothing to do, nothing refused)", target: "1.34.2", cp: "1.34.2", kubelet: "1.34.2", rules: [] },
  { name: "resuming: one control plane already at the target", target: "1.35.0", cp: "1.34.2", kubelet: "1.34.2", over: { m1: { apiserver: "v1.35.0" } }, rules: [] },
  {
    name: "skipping a minor",
    target: "1.36.0",
    cp: "1.34.2",
    kubelet: "1.34.2",
    rules: ["control-plane-one-minor-at-a-time", "control-plane-one-minor-at-a-time", "control-plane-one-minor-at-a-time"],
    hosts: ["m1", "m2", "m3"],
    says: /m1's kube-apiserver runs 1\.34\.2: the control plane moves one minor at a time, so 1\.36\.0 is not allowed; upgrade to 1\.35\.x first/,
  },
  {
    name: "one control plane left behind a minor (mixed after a failed upgrade)",
    target: "1.36.0",
    cp: "1.35.0",
    kubelet: "1.35.0",
    over: { m3: { apiserver: "v1.34.2" } },
    rules: ["control-plane-one-minor-at-a-time"],
    hosts: ["m3"],
    says: /m3's kube-apiserver runs 1\.34\.2/,
  },
  { name: "a downgrade", target: "1.33.4", cp: "1.34.2", kubelet: "1.33.4", rules: ["no-downgrade", "no-downgrade", "no-downgrade"], says: /newer than the target 1\.33\.4: kubeha does not downgrade/ },
  {
    name: "a kubelet newer than the target API servers",
    target: "1.35.0",
    cp: "1.34.2",
    kubelet: "1.34.2",
    over: { w2: { kubelet: "v1.35.1" } },
    rules: ["kubelet-newer-than-apiserver"],
    hosts: ["w2"],
    says: /w2's kubelet runs 1\.35\.1, newer than the target 1\.35\.0: a kubelet may never be newer than the API servers/,
  },
  { name: "kubelets 3 minors behind the target are still allowed", target: "1.35.0", cp: "1.34.2", kubelet: "1.34.2", over: { w1: { kubelet: "v1.32.9" } }, rules: [] },
  {
    name: "a kubelet that would be 4 minors behind",
    target: "1.35.0",
    cp: "1.34.2",
    kubelet: "1.34.2",
    over: { w3: { kubelet: "v1.31.3" } },
    rules: ["kubelet-too-old"],
    hosts: ["w3"],
    says: /w3's kubelet runs 1\.31\.3: after the control plane moves to 1\.35\.0 it would be more than 3 minors older than the API servers; upgrade it to 1\.32\.x or newer first/,
  },
  { name: "an apiserver that did not answer", target: "1.35.0", cp: "1.34.2", kubelet: "1.34.2", over: { m2: { apiserver: undefined } }, rules: ["version-unknown"], hosts: ["m2"], says: /m2: its kube-apiserver version could not be read/ },
  { name: "a node without a kubelet version", target: "1.35.0", cp: "1.34.2", kubelet: "1.34.2", over: { w1: { kubelet: "" } }, rules: ["version-unknown"], hosts: ["w1"] },
];

for (const row of SKEW_TABLE) {
  test(`skew: ${row.name} -> ${row.rules.length ? row.rules.join(", ") : "allowed"}`, () => {
    const got = checkSkew(row.target, nodes(row.cp, row.kubelet, row.over));
    assert.deepEqual(got.map((r) => r.rule), row.rules, JSON.stringify(got));
    if (row.hosts) assert.deepEqual(got.flatMap((r) => r.hosts), row.hosts);
    if (row.says) assert.match(got[0]!.message, row.says);
  });
}

test("skew: a target that is not a version is refused by name", () => {
  const r = checkSkew("1.35", nodes("1.34.2", "1.34.2"));
  assert.deepEqual(r.map((x) => x.rule), ["target-invalid"]);
  assert.match(r[0]!.message, /"1\.35" is not a Kubernetes version/);
});

test("kubeadm must be the target version once installed (the rule names host and both versions)", () => {
  assert.equal(checkKubeadm("m1", "v1.35.0", "1.35.0"), undefined);
  assert.equal(checkKubeadm("m1", "v1.35.0-standin", "1.35.0"), undefined);
  const r = checkKubeadm("m2", "v1.34.2", "1.35.0");
  assert.equal(r?.rule, "kubeadm-not-target");
  assert.match(r!.message, /m2: the installed kubeadm is "v1\.34\.2", the target is 1\.35\.0/);
  assert.equal(checkKubeadm("m3", undefined, "1.35.0")?.rule, "kubeadm-not-target");
});

test("plan: a fresh upgrade applies on the first control plane, then upgrade node on the others one at a time, then workers in batches", () => {
  const p = planUpgrade(cluster("1.35.0"), nodes("1.34.2", "1.34.2"), 2);
  assert.deepEqual(p.refusals, []);
  assert.deepEqual(
    p.controlPlanes.map((t) => [t.host, t.role, t.kubeadm, t.kubelet]),
    [
      ["m1", "first-control-plane", "apply", true],
      ["m2", "control-plane", "node", true],
      ["m3", "control-plane", "node", true],
    ],
  );
  assert.deepEqual(p.workerBatches.map((b) => b.map((t) => `${t.host}:${t.kubeadm}`)), [["w1:node", "w2:node"], ["w3:node"]]);
  assert.deepEqual(p.done, []);
  const text = describeUpgrade(p);
  assert.match(text[0]!, /^m1 \(first-control-plane\): install kubeadm\/kubelet\/kubectl 1\.35\.0, kubeadm upgrade plan, kubeadm upgrade apply v1\.35\.0 -y, drain, restart kubelet, uncordon$/);
  assert.match(text.at(-1)!, /^w3 \(worker, batch 2\): .*kubeadm upgrade node/);
});

test("plan: --max-unavailable 1 (the default) makes one batch per worker", () => {
  const p = planUpgrade(cluster("1.35.0"), nodes("1.34.2", "1.34.2"));
  assert.deepEqual(p.workerBatches.map((b) => b.length), [1, 1, 1]);
});

test("plan: resuming after the first control plane never repeats upgrade apply", () => {
  const v = nodes("1.34.2", "1.34.2", { m1: { apiserver: "v1.35.0-standin", kubelet: "v1.35.0", kubeadm: "v1.35.0" } });
  const p = planUpgrade(cluster("1.35.0"), v);
  assert.deepEqual(p.controlPlanes.map((t) => `${t.host}:${t.kubeadm}`), ["m2:node", "m3:node"]);
  assert.deepEqual(p.done, ["m1"]);
  assert.ok(!p.controlPlanes.some((t) => t.kubeadm === "apply"));
});

test("plan: the apply done but the first control plane's kubelet not yet restarted: only its kubelet is left there", () => {
  const p = planUpgrade(cluster("1.35.0"), nodes("1.34.2", "1.34.2", { m1: { apiserver: "v1.35.0" } }));
  assert.deepEqual(p.controlPlanes[0], { host: "m1", role: "first-control-plane", kubeadm: "none", kubelet: true });
});

test("plan: another control plane moved first (the first was down): the first gets upgrade node, not apply", () => {
  const p = planUpgrade(cluster("1.35.0"), nodes("1.34.2", "1.34.2", { m2: { apiserver: "v1.35.0" } }));
  assert.equal(p.controlPlanes[0]!.kubeadm, "node");
});

test("plan: a finished upgrade is a no-op (every node listed as done)", () => {
  const p = planUpgrade(cluster("1.35.0"), nodes("1.35.0", "1.35.0"));
  assert.ok(upgradeDone(p));
  assert.deepEqual(p.done, ["m1", "m2", "m3", "w1", "w2", "w3"]);
  assert.deepEqual(describeUpgrade(p), ["already at 1.35.0: m1, m2, m3, w1, w2, w3"]);
});

test("plan: an interrupted worker batch continues with the workers whose kubelet is behind", () => {
  const p = planUpgrade(cluster("1.35.0"), nodes("1.35.0", "1.35.0", { w2: { kubelet: "v1.34.2" } }), 2);
  assert.deepEqual(p.controlPlanes, []);
  assert.deepEqual(p.workerBatches.map((b) => b.map((t) => t.host)), [["w2"]]);
});

test("drain helper: the runtime-socket command for one server, and no injection through the name", () => {
  const cmd = setServerStateCommand("master2", "drain");
  assert.match(cmd, /'set server kube-apiserver\/master2 state drain' \| socat stdio \/run\/haproxy\/admin\.sock\)/);
  assert.match(setServerStateCommand("m1", "ready"), /state ready/);
  assert.throws(() => setServerStateCommand("m1; rm -rf /", "drain"), /not a host name/);
});

test("versions read from hosts: /version's gitVersion and each Node's kubeletVersion", () => {
  assert.equal(parseGitVersion('{"major":"1","minor":"35","gitVersion":"v1.35.0-standin"}'), "v1.35.0-standin");
  assert.equal(parseGitVersion("curl: (7) Failed to connect"), undefined);
  const k = parseKubeletVersions(JSON.stringify({ items: [{ metadata: { name: "m1" }, status: { nodeInfo: { kubeletVersion: "v1.34.2" } } }, { metadata: { name: "w1" }, status: {} }] }));
  assert.deepEqual([...k], [["m1", "v1.34.2"], ["w1", ""]]);
});
