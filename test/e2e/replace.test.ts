/**
 * Replacing a dead control plane (issue 11), on real machines: the lab's 3 masters carry control
 * plane + external etcd + HAProxy/keepalived (Kubernetes binaries are the stand-ins). A master's
 * machine is destroyed and a fresh one with the same name and address boots in its place
 * (`labRecreate`); `apply` removes its dead etcd member, adds it again and joins it as a control
 * plane, never running `kubeadm init`, while API probes through the VIP and numbered etcd writes
 * run (src/drill/load.ts): no acknowledged write may be lost. The machine replaced is master1, the
 * one that ran `kubeadm init` (the cluster-wide kubeadm work moves to another control plane), with
 * its old host keys left pinned, as after a real reinstall: kubeha refuses the new keys until told.
 * (A non-first master replaced with stacked etcd: bench/e2e/stacked-replace.test.ts.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { labExec, labRecreate, type LabInfo } from "../../src/lab/index.ts";
import { parseCluster } from "../../src/spec/read.ts";
import type { Cluster } from "../../src/spec/model.ts";
import { startLoad, loadSummary } from "../../src/drill/load.ts";
import { parseMemberList, type EtcdMember } from "../../src/plan/etcd.ts";
import { PATHS } from "../../src/render/paths.ts";
import type { RunEvent } from "../../src/report/events.ts";
import { useSharedLab } from "../helpers/e2e-lab.ts";
import { kubeha, kubehaLive, untilOk } from "../helpers/cli.ts";

const MASTERS = ["master1", "master2", "master3"];
let lab: LabInfo;
let cwd: string;
let cluster: Cluster;

// The lab several e2e files share within one test run (test/helpers/e2e-lab.ts).
const NAME = useSharedLab(async (shared) => {
  ({ lab, cwd } = shared);
  const r = parseCluster(readFileSync(lab.clusterFile, "utf8"), { sourcePath: lab.clusterFile });
  assert.ok(r.cluster, JSON.stringify(r.problems));
  cluster = r.cluster;
});

const address = (m: string) => lab.machines.find((x) => x.name === m)!.address;

async function members(via: string): Promise<EtcdMember[]> {
  const cmd = `ETCDCTL_API=3 etcdctl --endpoints=https://${address(via)}:2379 --cacert=/etc/etcd/pki/ca.crt --cert=/etc/etcd/pki/healthcheck-client.crt --key=/etc/etcd/pki/healthcheck-client.key member list -w json`;
  const r = await labExec(NAME, via, ["bash", "-c", cmd]);
  assert.equal(r.code, 0, r.stderr);
  return parseMemberList(r.stdout);
}

/** The three masters, each started once (an unstarted member has no name), at their own address. */
function assertThreeStarted(ms: EtcdMember[]): void {
  assert.deepEqual(ms.map((m) => m.name).sort(), MASTERS, JSON.stringify(ms));
  assert.deepEqual(ms.flatMap((m) => m.peerURLs).sort(), MASTERS.map((m) => `https://${address(m)}:2380`).sort(), JSON.stringify(ms));
  assert.equal(new Set(ms.map((m) => m.id)).size, 3);
}

/**
 * `apply -o json`: exit code, and every change it made as `host: message`. A child process the
 * test waits for without blocking: the load's probes and writes run in this process meanwhile.
 */
async function applyJson(extra: string[] = []): Promise<{ code: number; changes: string[]; stderr: string; stdout: string }> {
  const r = await kubehaLive(["apply", lab.clusterFile, "--output", "json", ...extra], { cwd, timeoutMs: 10 * 60_000, lines: "stdout" }, () => undefined);
  const events = r.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as RunEvent);
  const changes = events.flatMap((e) => (e.type === "change" ? [`${e.host}: ${e.message}`] : []));
  return { code: r.code, changes, stderr: r.stderr, stdout: r.stdout };
}

const untilHealthy = (seconds: number) => untilOk(() => kubeha(["status", lab.clusterFile], { cwd, timeoutMs: 90_000 }), seconds);

/** Destroys `machine`, recreates it fresh and applies under load; returns the apply's changes. */
async function replace(machine: string, prepareKeys: () => Promise<string[]>): Promise<string[]> {
  const before = await members(MASTERS.find((m) => m !== machine)!);
  assertThreeStarted(before);
  const load = await startLoad(cluster);
  const t0 = Date.now();
  let changes: string[] = [];
  try {
    const flags = await prepareKeys();
    const a = await applyJson(flags);
    assert.equal(a.code, 0, `${a.stderr}\n${a.stdout.slice(-3000)}`);
    changes = a.changes;
  } finally {
    const f = await load.stop();
    console.log(`# replace ${machine}: ${((Date.now() - t0) / 1000).toFixed(1)} s, ${loadSummary(f)}; first failures: ${f.failures.slice(0, 3).join("; ") || "none"}`);
    // Only what kubeha answers for: acknowledged writes survive. How many writes and probes get
    // through depends on this machine's load too (the figures above are printed for the report).
    assert.ok(f.etcd, "the load wrote to etcd");
    assert.ok(f.etcd.acked > 0, `writes were acknowledged (${f.etcd.acked})`);
    assert.deepEqual(f.etcd.lost, [], "no acknowledged etcd write lost during the replacement");
    assert.ok(f.probes > 0, "probes ran");
  }
  const old = before.find((m) => m.name === machine)!;
  assert.ok(changes.some((c) => c.startsWith(`${machine}: etcdctl member remove ${BigInt(old.id).toString(16)} `)), changes.join("\n"));
  assert.ok(changes.some((c) => c.startsWith(`${machine}: etcdctl member add ${machine} `)), changes.join("\n"));
  assert.ok(changes.some((c) => c === `${machine}: kubeadm join --control-plane`), changes.join("\n"));
  assert.ok(!changes.some((c) => /: kubeadm init/.test(c)), `no kubeadm init ran:\n${changes.filter((c) => /kubeadm/.test(c)).join("\n")}`);
  const now = await members(machine);
  assertThreeStarted(now);
  for (const m of before.filter((x) => x.name !== machine)) assert.ok(now.some((x) => x.id === m.id), `${m.name} kept its member id`);
  assert.notEqual(now.find((m) => m.name === machine)!.id, old.id, "a new member for the fresh machine");
  const s = await untilHealthy(90);
  assert.equal(s.code, 0, s.stdout);
  return changes;
}

test("master1 (where kubeadm init ran) destroyed and recreated fresh: kubeha refuses its new host key until told, then apply replaces it and the cluster-wide work moves to master2", async () => {
  const kh = lab.knownHosts;
  const changes = await replace("master1", async () => {
    const r = await labRecreate(NAME, "master1", { keepOldHostKeys: true });
    assert.equal(r.fingerprints.length, 2);
    // A reinstalled machine presents new host keys: never accepted silently.
    const p = await kubehaLive(["plan", lab.clusterFile], { cwd, timeoutMs: 120_000 }, () => undefined);
    assert.notEqual(p.code, 0);
    assert.match(p.stderr, /HOST KEY CHANGED for master1/);
    const hint = /ssh-keygen -R '([^']+)' -f (\S+)/.exec(p.stderr);
    assert.ok(hint, p.stderr);
    assert.equal(hint[2], kh);
    // What the operator does after checking the new key on the console: what the hint says, then trust it once.
    const rm = spawnSync("ssh-keygen", ["-R", hint[1]!, "-f", hint[2]!], { encoding: "utf8" });
    assert.equal(rm.status, 0, rm.stderr);
    return ["--trust-new-host-keys"];
  });
  assert.match(readFileSync(kh, "utf8"), new RegExp(`^${address("master1").replace(/\./g, "\\.")} ssh-ed25519 `, "m"), "the new key is pinned");
  // The token for the join is made on master2, where the init configuration now is; master1 has none.
  assert.ok(changes.some((c) => c.startsWith("master2: create bootstrap token ")), changes.join("\n"));
  assert.equal((await labExec(NAME, "master1", ["test", "-e", PATHS.kubeadmInit])).code, 1);
  assert.equal((await labExec(NAME, "master2", ["test", "-s", PATHS.kubeadmInit])).code, 0);
  // A second apply changes nothing on the control planes' kubeadm files: the choice does not flip back.
  const again = await applyJson();
  assert.equal(again.code, 0, again.stderr);
  assert.ok(!again.changes.some((c) => /kubeadm|init\.yaml|join\.yaml|member/.test(c)), again.changes.join("\n"));
});
