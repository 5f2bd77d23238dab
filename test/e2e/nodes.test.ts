/**
 * Hosts come and go with no client noticing (issue 11, "Add" and "Remove"), on ONE lab for every
 * test, in order (a lab up + apply is the most expensive part of an e2e file). The lab: dedicated LB
 * machines lb1..lb3 with HAProxy + keepalived, masters with external etcd, two workers; Kubernetes
 * binaries are the stand-ins, kubectl is the real one, everything else real. The cluster is built
 * without master4 and lb3; then, each under load (src/drill/load.ts: API probes through the VIP at
 * 50/s and numbered etcd writes read back):
 * - master4 added: a 4th control plane and etcd member (`etcdctl member add`), every LB host's
 *   HAProxy gains the backend by a reload (the master process stays, its new worker took the
 *   listening sockets over with `-x`), the VIP never elsewhere, status healthy;
 * - lb3 added: HAProxy + keepalived installed there, every LB host's keepalived knows the new
 *   unicast peer (its running configuration, dumped with SIGUSR1) by a reload, and the VIP never
 *   leaves its holder (every address change on every LB host watched): 0 moves;
 * - master4 removed with `kubeha node remove --write` (etcd 3 members after, out of every HAProxy
 *   backend, Node gone, state cleaned, its host key forgotten, the file's comments kept;
 *   `--dry-run` first changes nothing);
 * - removing 2 of the 3 masters left is refused with the quorum numbers and nothing changes;
 * - worker2, deleted from the file by hand first, is listed by `plan` as managed before and then
 *   removed;
 * - the VIP holder's LB role removed: the VIP is handed over first (the holder's keepalived
 *   priority lowered while everything runs), moves once, to the next LB host, and stays there; the
 *   only probes that may fail are those in flight through the old holder at that instant (reset by
 *   the new holder's kernel), none that started after it.
 * Adding and removing a control plane, adding an LB host and removing a worker: 0 probes sent and
 * failed (issue 11's target); slots the probing process did not send because it ran late are
 * counted apart and held to a short stall (STALL_MAX_MS).
 * Each operation's figures (duration, probes, failed, VIP moves) are printed as test diagnostics
 * and in a closing note.
 */
import { after, before, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { labExec, sleep, type LabInfo } from "../../src/lab/index.ts";
import { dropLab, freshLab, withoutHosts } from "../helpers/e2e-lab.ts";
import { kubeha, kubehaLive, untilOk, type CliResult } from "../helpers/cli.ts";
import { loadCluster, parseCluster } from "../../src/spec/read.ts";
import { removeHostsFromText } from "../../src/spec/edit-hosts.ts";
import type { Cluster } from "../../src/spec/model.ts";
import { parseServersState } from "../../src/probe/status.ts";
import { parseMemberList } from "../../src/plan/etcd.ts";
import { loadSummary, sentFailures, startLoad, type LoadFigures } from "../../src/drill/load.ts";
import { failedProbes, movedAt, moveTimeline, strandedBy, whileVipWatched } from "../helpers/vip-move.ts";

// Overridable so that parallel runs on one machine use their own lab name, subnet and probe rate.
const NAME = process.env.KUBEHA_E2E_NODES_LAB ?? "kt-nodes";
const SUBNET = process.env.KUBEHA_E2E_NODES_SUBNET ?? "198.19.244.0/24";
const RATE = Number(process.env.KUBEHA_E2E_NODES_RATE ?? 50);
let lab: LabInfo;
let cwd: string;
/** The lab's cluster file with every machine (master4 and lb3 are held back at first). */
let fullText: string;
/** Per operation, for the closing note. */
const figures: string[] = [];

const MASTERS = ["master1", "master2", "master3"];
const LBS = ["lb1", "lb2", "lb3"];

const sh = async (m: string, cmd: string) => labExec(NAME, m, ["bash", "-c", cmd], { timeoutMs: 30_000 });
const addr = (m: string) => lab.machines.find((x) => x.name === m)!.address;

/** Runs `script` on `machine` and asserts it succeeded; its stdout, trimmed. */
async function shOk(machine: string, script: string): Promise<string> {
  const r = await sh(machine, script);
  assert.equal(r.code, 0, `${machine}: ${script}\n${r.stderr}`);
  return r.stdout.trim();
}

/** The CLI as a child process that does not block this process's probes. */
const cli = (args: string[], timeoutMs = 10 * 60_000): Promise<CliResult> => kubehaLive(args, { cwd, timeoutMs }, () => undefined);

/** Writes the cluster file with every host of the lab except `without`. */
function writeHosts(without: string[]): void {
  writeFileSync(lab.clusterFile, withoutHosts(fullText, without));
}

function cluster(text: string): Cluster {
  const r = parseCluster(text, { sourcePath: lab.clusterFile });
  assert.ok(r.cluster, r.problems.map((p) => p.message).join("\n"));
  return r.cluster;
}

// The member's own client URL (its certificate has no 127.0.0.1), from the file kubeha wrote.
const ETCDCTL = "set -o pipefail; . /etc/default/etcd; ETCDCTL_API=3 etcdctl --endpoints=$ETCD_ADVERTISE_CLIENT_URLS --cacert=/etc/etcd/pki/ca.crt --cert=/etc/etcd/pki/healthcheck-client.crt --key=/etc/etcd/pki/healthcheck-client.key";
const KUBECTL = "kubectl --kubeconfig /etc/kubernetes/admin.conf";

async function etcdMemberNames(): Promise<string[]> {
  return parseMemberList(await shOk("master1", `${ETCDCTL} member list -w json`)).map((m) => m.name).sort();
}

async function nodes(): Promise<string> {
  return shOk("master1", `${KUBECTL} get nodes -o custom-columns=NAME:.metadata.name,UNSCHEDULABLE:.spec.unschedulable --no-headers`);
}

/** Polls (bounded) until every LB host's HAProxy has exactly `masters` as backends, all UP. */
async function backendsUp(lbs: string[], masters: string[]): Promise<void> {
  const want = masters.map(addr).sort();
  for (const lb of lbs) {
    let got: string[] = [];
    let raw = "";
    for (let i = 0; i < 40; i++) {
      raw = (await sh(lb, "echo 'show servers state' | socat stdio UNIX-CONNECT:/run/haproxy/admin.sock")).stdout;
      const servers = parseServersState(raw.split("\n"));
      got = servers.filter((s) => s.state === "UP").map((s) => s.address).sort();
      if (servers.length === want.length && got.join() === want.join()) break;
      await sleep(500);
    }
    assert.deepEqual(got, want, `${lb}: HAProxy backends UP\n${raw}`);
  }
}

/** `kubeha status` exits 0 with one VIP holder (polled, bounded: a new backend needs its checks to rise). */
async function statusHealthy(): Promise<void> {
  const r = await untilOk(() => cli(["status", lab.clusterFile, "--output", "json"], 120_000), 60);
  assert.equal(r.code, 0, `status not healthy:\n${r.stdout}\n${r.stderr}`);
  const report = JSON.parse(r.stdout) as { vip: { holders: string[] } };
  assert.equal(report.vip.holders.length, 1, `one VIP holder: ${report.vip.holders.join(", ")}`);
}

/** Who holds the VIP, as `kubeha status` reports it. */
async function statusHolders(): Promise<string[]> {
  const r = await cli(["status", lab.clusterFile, "--output", "json"], 120_000);
  return (JSON.parse(r.stdout) as { vip: { holders: string[] } }).vip.holders;
}

/** MainPID of haproxy and keepalived per LB host (a reload keeps them, a restart does not). */
async function mainPids(lbs: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const lb of lbs) out[lb] = (await sh(lb, "systemctl show -p MainPID --value haproxy keepalived | tr '\\n' ' '")).stdout.trim();
  return out;
}

/** Everything a removal could change on a machine: LB and /etc/hosts files, units, kubeadm's files. */
async function machineState(machine: string): Promise<string> {
  const files = "/etc/haproxy/haproxy.cfg /etc/keepalived/keepalived.conf /etc/kubeha/hosts /etc/hosts /etc/kubernetes/kubelet.conf /etc/default/etcd";
  return shOk(machine, `sha256sum ${files} 2>&1; for u in haproxy keepalived etcd kubelet; do echo "$u $(systemctl is-active $u) $(systemctl is-enabled $u 2>&1)"; done; ls /var/lib/etcd 2>&1 || true`);
}

async function clusterState(machines: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = { etcd: (await etcdMemberNames()).join(","), nodes: await nodes() };
  for (const m of machines) out[m] = await machineState(m);
  return out;
}

interface OpFigures {
  label: string;
  load: LoadFigures;
  ms: number;
  result: CliResult;
  holders: string[];
  /** Who held the VIP at each change (the first entry is the state when watching began). */
  vipEvents: string[][];
  /** When each change was seen, `performance.now()` (the clock of `load.t0`). */
  vipTimes: number[];
  /** Unix time (s) right before the CLI ran, for `journalctl --since @...`. */
  startedAt: number;
}

/**
 * Runs the CLI with `args` under load (the load's targets from `before`, the cluster as the
 * clients know it), with the VIP watched on every lab LB machine; returns what the clients saw and
 * records it for the closing note. A baseline of the same load with nothing happening comes first
 * (BASELINE_MS: 250 probes at 50/s), so the note tells what the machine itself costs (a busy shared
 * machine times probes out) from what the operation costs.
 */
const BASELINE_MS = 5000;

async function underLoad(t: TestContext, label: string, before: Cluster, args: string[]): Promise<OpFigures> {
  const idle = await startLoad(before, { rateHz: RATE });
  await sleep(BASELINE_MS);
  figures.push(`  baseline before "${label}" (nothing happening): ${loadSummary(await idle.stop())}`);
  const all = cluster(fullText);
  const lbs = all.hosts.filter((h) => h.roles.includes("lb"));
  const w = await whileVipWatched(all, lbs, label, async () => {
    const load = await startLoad(before, { rateHz: RATE });
    const a0 = performance.now();
    const startedAt = Math.floor(Date.now() / 1000) - 1;
    const result = await cli(args);
    const ms = Math.round(performance.now() - a0);
    await sleep(3000); // a tail under load: reloads that finish late would show here
    return { load: await load.stop(), ms, result, startedAt };
  });
  const { holders, vipEvents, vipTimes } = w;
  const { load: f, ms, result, startedAt } = w.value;
  const line = `${label}: ${(ms / 1000).toFixed(1)} s, exit ${result.code}; ${loadSummary(f)}; VIP on ${holders[0]}, ${vipEvents.length - 1} changes`;
  figures.push(`  ${line}`);
  t.diagnostic(line);
  assert.equal(result.code, 0, `${label}: kubeha ${args.join(" ")} failed\n${result.stdout}\n${result.stderr}`);
  return { label, load: f, ms, result, holders, vipEvents, vipTimes, startedAt };
}

/**
 * How long the probing process may stall (slots not sent, LATE). A clean CI run once showed 3 to 56
 * probes "timing out" within the same 2 ms during add/remove while the baseline just before had 0
 * of 501 failed: the probe's event loop had run about a second late and then sent every missed
 * slot at once. Such slots are now recorded LATE, not sent (src/drill/probes.ts), and a quiet run
 * shows 0 probes sent and failed in every operation, the issue's target.
 */
const STALL_MAX_MS = 1000;

/**
 * What the clients may notice: no acknowledged etcd write lost; no probe that was sent failed
 * (refused, reset, answered with an error or timed out, what a backend cut by HAProxy, a reload
 * that drops its listener or an API server without etcd gives), the probing process's own stalls
 * within STALL_MAX_MS; the VIP never on another host than its holder before and on that holder at
 * the end. `vipStill`: not even absent for a moment.
 */
function assertNoOutage(f: OpFigures, o: { vipStill?: boolean } = {}): void {
  assert.ok(f.load.probes > 0 && f.load.etcd && f.load.etcd.acked > 0, `${f.label}: the load ran (${loadSummary(f.load)})`);
  assert.deepEqual(f.load.etcd.lost, [], `${f.label}: acknowledged etcd writes lost`);
  // The VIP first: what the cluster did does not depend on how busy the machine running the probes is.
  const elsewhere = f.vipEvents.filter((hs) => hs.some((h) => h !== f.holders[0]));
  assert.deepEqual(elsewhere, [], `${f.label}: the VIP was only ever on ${f.holders[0]} (holders at each change: ${JSON.stringify(f.vipEvents)})`);
  assert.deepEqual(f.vipEvents.at(-1), f.holders, `${f.label}: ${f.holders[0]} holds the VIP at the end`);
  if (o.vipStill) assert.deepEqual(f.vipEvents, [f.holders], `${f.label}: the VIP stayed on ${f.holders[0]} (holders at each change: ${JSON.stringify(f.vipEvents)})`);
  // Issue 11's target: no probe that was sent failed (src/drill/load.ts sentFailures); the slots
  // never sent are held to a STALL_MAX_MS stall.
  const failed = sentFailures(f.load).map((x) => `t=${Math.round(x.t)} ${x.error ?? "failed"}`);
  assert.deepEqual(failed, [], `${f.label}: probes sent and failed (${loadSummary(f.load)})`);
  assert.ok(f.load.blackoutMs <= STALL_MAX_MS, `${f.label}: the probing process stalled for ${f.load.blackoutMs} ms (${loadSummary(f.load)})\n${f.load.failures.join("\n")}`);
}

before(async () => {
  ({ lab, cwd } = await freshLab({ name: NAME, subnet: SUBNET, masters: 4, workers: 2, lbs: 3 }));
  fullText = readFileSync(lab.clusterFile, "utf8");
  writeHosts(["master4", "lb3"]);
  const a = kubeha(["apply", lab.clusterFile, "--output", "plain"], { cwd, timeoutMs: 10 * 60_000 });
  assert.equal(a.code, 0, `${a.stdout}\n${a.stderr}`);
});

after(async () => {
  if (figures.length) console.log(`node add/remove figures (${RATE} probes/s):\n${figures.join("\n")}`);
  await dropLab(NAME, cwd);
});

test("before: 3 control planes, 3 etcd members, 2 LB hosts with 3 backends each; master4 and lb3 untouched", async () => {
  assert.deepEqual(await etcdMemberNames(), MASTERS);
  await backendsUp(["lb1", "lb2"], MASTERS);
  for (const spare of ["master4", "lb3"]) {
    const r = await sh(spare, "ls /etc/kubernetes /etc/haproxy/haproxy.cfg /etc/keepalived/keepalived.conf 2>/dev/null | wc -l");
    assert.equal(r.stdout.trim(), "0", `${spare} was not touched`);
  }
  await statusHealthy();
});

test("add a 4th control plane under load: etcd 4 members, 4 HAProxy backends on every LB host by a reload, the VIP stays", async (t) => {
  const before = cluster(readFileSync(lab.clusterFile, "utf8"));
  const pids = await mainPids(["lb1", "lb2"]);
  writeHosts(["lb3"]);
  const f = await underLoad(t, "add master4 (control plane, etcd member)", before, ["apply", lab.clusterFile, "--output", "plain"]);
  assert.deepEqual(await etcdMemberNames(), [...MASTERS, "master4"]);
  await backendsUp(["lb1", "lb2"], [...MASTERS, "master4"]);
  assert.deepEqual(await mainPids(["lb1", "lb2"]), pids, "haproxy and keepalived were reloaded, not restarted");
  for (const lb of ["lb1", "lb2"]) {
    // The master re-executed itself and started its new worker with -x: the worker took the
    // listening sockets over from the old one (no second bind, no refused connection).
    const ps = (await sh(lb, "ps -o args= --ppid $(systemctl show -p MainPID --value haproxy)")).stdout;
    assert.match(ps, /haproxy -sf \d+ -x \S+/, `${lb}: haproxy's worker after the reload: ${ps}`);
  }
  for (const lb of ["lb1", "lb2"]) {
    // It entered the backends once its API server answered (src/plan/backends.ts): HAProxy never
    // had to find it down. Before, the reload put it in UP and its first connect failed.
    const j = await shOk(lb, `journalctl -u haproxy --since @${f.startedAt} --no-pager -o cat | grep -c 'kube-apiserver/master4 is DOWN' || true`);
    assert.equal(j, "0", `${lb}: HAProxy marked master4 DOWN after it entered the backend`);
  }
  await statusHealthy();
  assertNoOutage(f);
});

test("add an LB host under load: keepalived peers updated everywhere by a reload, the new host does not take the VIP, which never leaves its holder; 0 probes failed", async (t) => {
  const before = cluster(readFileSync(lab.clusterFile, "utf8"));
  const pids = await mainPids(["lb1", "lb2"]);
  writeHosts([]);
  const f = await underLoad(t, "add lb3 (LB host)", before, ["apply", lab.clusterFile, "--output", "plain"]);
  assert.notEqual(f.holders[0], "lb3");
  assert.deepEqual(await mainPids(["lb1", "lb2"]), pids, "haproxy and keepalived on lb1, lb2 were reloaded, not restarted");
  await backendsUp(LBS, [...MASTERS, "master4"]);
  for (const lb of LBS) {
    // The running configuration (SIGUSR1 dumps it), not only the file: the reload took the new peer.
    const r = await sh(lb, "rm -f /tmp/keepalived.data; systemctl kill -s USR1 --kill-who=main keepalived; for i in $(seq 1 20); do [ -s /tmp/keepalived.data ] && break; sleep 0.2; done; cat /tmp/keepalived.data");
    // "   Unicast Peer :" then one "     198.18.x.y min_ttl 0 max_ttl 255" line per peer.
    const block = /^\s*Unicast Peer :\n((?:\s+\d+\.\d+\.\d+\.\d+.*\n)*)/m.exec(r.stdout)?.[1] ?? "";
    const peers = [...block.matchAll(/(\d+\.\d+\.\d+\.\d+)/g)].map((m) => m[1]!).sort();
    assert.deepEqual(peers, LBS.filter((x) => x !== lb).map(addr).sort(), `${lb}: keepalived's running unicast peers\n${r.stdout.slice(0, 3000)}`);
  }
  assert.equal((await sh("lb3", "systemctl is-active keepalived haproxy")).stdout.trim(), "active\nactive");
  assert.equal((await sh("lb3", `ip -o -4 addr show to ${lab.vip}/32`)).stdout.trim(), "", "lb3 does not hold the VIP");
  for (const lb of ["lb1", "lb2"]) {
    // The cause of the VIP loss this guards against (src/render/keepalived.ts): a reload that made
    // the kernel SIGKILL a real-time VRRP child, which keepalived's parent then respawned.
    const j = await shOk(lb, "journalctl -u keepalived --no-pager -o cat | grep -c 'VRRP child process.*died' || true");
    assert.equal(j, "0", `${lb}: keepalived's VRRP child died and was respawned`);
  }
  await statusHealthy();
  assertNoOutage(f, { vipStill: true });
});

test("HAProxy reloads refuse no connection: 5 reloads while lb1 connects to its own frontend 100 times a second", async (t) => {
  // Inside the machine, TCP connects to the local frontend only: a refused SYN during a reload
  // shows as a failed connect at once, whatever the load of the host running the lab.
  const port = cluster(fullText).endpoint.port;
  const before = (await sh("lb1", "ps -o pid= --ppid $(systemctl show -p MainPID --value haproxy)")).stdout.trim();
  const r = await labExec(NAME, "lb1", ["bash", "-c", [
    `( ok=0; bad=0; end=$((SECONDS + 9)); while [ $SECONDS -lt $end ]; do if exec 3<>/dev/tcp/127.0.0.1/${port}; then ok=$((ok + 1)); exec 3>&-; else bad=$((bad + 1)); fi; sleep 0.01; done 2>/dev/null; echo "connects $ok refused $bad" ) &`,
    "for i in 1 2 3 4 5; do sleep 1; systemctl reload haproxy || echo reload failed; done",
    "wait",
  ].join("\n")], { timeoutMs: 60_000 });
  const after = (await sh("lb1", "ps -o pid= --ppid $(systemctl show -p MainPID --value haproxy)")).stdout.trim();
  t.diagnostic(`lb1 during 5 HAProxy reloads: ${r.stdout.trim()}`);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /reload failed/);
  const m = /connects (\d+) refused (\d+)/.exec(r.stdout);
  assert.ok(m, r.stdout);
  assert.ok(Number(m[1]) > 50, `the loop connected (${r.stdout.trim()})`);
  assert.equal(Number(m[2]), 0, `connections refused during the reloads (${r.stdout.trim()})`);
  assert.notEqual(after, before, "the worker was replaced (the reloads happened)");
});

test("--dry-run of master4's removal lists every step and changes nothing on any host", async () => {
  const all = [...MASTERS, "master4", "worker1", "worker2", ...LBS];
  const before = await clusterState(all);
  const r = await cli(["node", "remove", lab.clusterFile, "master4", "--dry-run"]);
  assert.equal(r.code, 0, r.stderr);
  for (const step of [
    /master4: cordon and drain through master1/,
    /lb1, lb2, lb3: HAProxy backends and keepalived peers without the removed hosts/,
    /master4: etcdctl member remove, through master1, master2, master3/,
    /master4: kubeadm reset -f/,
    /master4: delete the Node object through master1/,
    /then delete these lines from .*cluster\.yaml .*:\n {2}master4: lines \d+-\d+/,
  ])
    assert.match(r.stdout, step);
  assert.doesNotMatch(r.stdout, /master4: stop and disable keepalived|master4: stop and disable haproxy/, "master4 runs no HAProxy or keepalived here");
  assert.match(r.stdout, /\[etcd-remove\] etcdctl member remove [0-9a-f]+ \(master4\)/, "the member id read from the cluster");
  assert.deepEqual(await clusterState(all), before);
});

test("remove master4 under load: 3 etcd members, out of every HAProxy backend, Node gone, state cleaned, comments kept", async (t) => {
  const fileBefore = readFileSync(lab.clusterFile, "utf8");
  const comments = fileBefore.split("\n").filter((l) => l.trimStart().startsWith("#"));
  assert.ok(comments.length > 0);
  const before = (await loadCluster(lab.clusterFile)).cluster;
  const knownHosts = join(dirname(lab.clusterFile), "known_hosts");
  const pinned = (m: string) => readFileSync(knownHosts, "utf8").split("\n").some((l) => l.split(" ")[0]!.split(",").includes(addr(m)));
  assert.ok(pinned("master4"), `master4's key is pinned in ${knownHosts} before`);
  const f = await underLoad(t, "remove master4 (control plane, etcd member)", before, ["node", "remove", lab.clusterFile, "master4", "--write"]);
  assert.match(f.result.stdout + f.result.stderr, /remove master4's host key \(\S+\) from \S*known_hosts/, "node remove says it forgot the key");
  assert.ok(!pinned("master4"), "master4's host key is gone from known_hosts");
  assert.ok(pinned("master1"), "the other hosts' keys stay");
  assert.deepEqual(await etcdMemberNames(), MASTERS);
  assert.doesNotMatch(await nodes(), /master4/);
  const gone = new RegExp(`${addr("master4").replaceAll(".", "\\.")}\\b|master4`);
  for (const lb of LBS) assert.doesNotMatch(await shOk(lb, "cat /etc/haproxy/haproxy.cfg /etc/keepalived/keepalived.conf /etc/kubeha/hosts"), gone, `${lb} still names master4`);
  for (const m of MASTERS) assert.doesNotMatch(await shOk(m, "cat /etc/kubeha/hosts"), gone, `${m} still names master4`);
  await backendsUp(LBS, MASTERS);
  assert.equal(await shOk("master4", "systemctl is-active keepalived haproxy etcd kubelet || true"), "inactive\ninactive\ninactive\ninactive");
  assert.equal(await shOk("master4", "ls -A /etc/kubernetes/manifests | wc -l"), "0", "kubeadm reset emptied the static pod manifests");
  // Emptied, kept with its owner: etcd (user etcd) could not create it again when master4 is re-added.
  assert.equal(await shOk("master4", "stat -c '%U %a' /var/lib/etcd; ls -A /var/lib/etcd | wc -l"), "etcd 700\n0", "the removed member's data is gone, its directory kept");
  const fileAfter = readFileSync(lab.clusterFile, "utf8");
  assert.doesNotMatch(fileAfter, /master4/);
  for (const c of comments) assert.ok(fileAfter.includes(c), `comment kept: ${c}`);
  const state = join(cwd, "lab", NAME, ".kubeha", NAME);
  assert.ok(!existsSync(join(state, "pki", "hosts", "master4")), "master4's certificates are gone from the state directory");
  assert.doesNotMatch(readFileSync(join(state, "managed-hosts.json"), "utf8"), /master4/);
  await statusHealthy();
  // Last, so that the checks above are seen even when the probes failed.
  assertNoOutage(f);
});

test("removing 2 of the 3 masters left is refused with the quorum numbers (exit 2), and nothing changes on any host", async () => {
  const all = [...MASTERS, "worker1", "worker2", ...LBS];
  const before = await clusterState(all);
  const fileBefore = readFileSync(lab.clusterFile, "utf8");
  for (const dry of [[], ["--dry-run"]]) {
    const r = await cli(["node", "remove", lab.clusterFile, "master2", "master3", "--write", ...dry]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /refusing to remove master2, master3: etcd quorum: removing 2 of 3 etcd members \(master2, master3\) leaves 1, and 3 members need 2 for quorum/);
    assert.match(r.stderr, /Nothing was changed on any host/);
    assert.match(r.stderr, /--force/);
    assert.equal(r.stdout, "");
  }
  assert.deepEqual(await clusterState(all), before);
  assert.equal(readFileSync(lab.clusterFile, "utf8"), fileBefore);
});

test("worker2 deleted from the file by hand: plan lists it as managed before; node remove takes it out under load (0 probes failed, Node gone)", async (t) => {
  const before = (await loadCluster(lab.clusterFile)).cluster;
  writeFileSync(lab.clusterFile, removeHostsFromText(readFileSync(lab.clusterFile, "utf8"), ["worker2"]));
  const p = await cli(["plan", lab.clusterFile, "-o", "plain"]);
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.stderr, /worker2 \(\S+, worker\) was managed before, no longer in the file — run `kubeha node remove \S+ worker2`/);
  assert.doesNotMatch(p.stdout, /^worker2:/m, "plan changes nothing on it");
  const f = await underLoad(t, "remove worker2 (already gone from the file)", before, ["node", "remove", lab.clusterFile, "worker2"]);
  assert.doesNotMatch(await nodes(), /worker2/);
  assert.match(await nodes(), /worker1/);
  assert.equal(await shOk("worker2", "systemctl is-active kubelet || true"), "inactive");
  assert.equal(await shOk("worker2", "ls /etc/kubernetes/kubelet.conf 2>/dev/null | wc -l"), "0");
  assert.deepEqual(await etcdMemberNames(), MASTERS);
  const again = await cli(["plan", lab.clusterFile, "-o", "plain"]);
  assert.doesNotMatch(again.stderr, /managed before/, "forgotten once removed");
  await statusHealthy();
  assertNoOutage(f, { vipStill: true });
});

test("remove the VIP holder's LB role under load: the VIP is handed over, moves once, to the next LB host, and stays there; only probes in flight at the move may fail", async (t) => {
  const before = (await loadCluster(lab.clusterFile)).cluster;
  const holder = (await statusHolders())[0]!;
  const dry = await cli(["node", "remove", lab.clusterFile, holder, "--dry-run"]);
  assert.equal(dry.code, 0, dry.stderr);
  const staying = LBS.filter((x) => x !== holder);
  assert.match(dry.stdout, new RegExp(`${holder}: hand the VIP over first .* then wait until ${staying.join(" or ")} holds it\n.*${holder}: stop and disable keepalived, haproxy`));
  assert.match(dry.stdout, new RegExp(`${staying.join(", ")}: HAProxy backends and keepalived peers without the removed hosts`));
  const f = await underLoad(t, `remove ${holder} (the VIP holder's LB role)`, before, ["node", "remove", lab.clusterFile, holder, "--write"]);
  // One move: the holder loses it (for a moment nobody or both may hold it), the next LB host by
  // priority takes it, and nothing changes after that (the reloads of the others keep it there).
  const next = staying[0]!;
  const changes = f.vipEvents.map((hs) => [...hs].sort().join(",")).filter((hs) => hs !== "" && hs !== [holder, next].sort().join(","));
  assert.deepEqual(changes, [holder, next], `the VIP went from ${holder} to ${next} once (holders at each change: ${JSON.stringify(f.vipEvents)})`);
  assert.deepEqual(f.vipEvents.at(-1), [next]);
  assert.deepEqual(await statusHolders(), [next], "status: the VIP stays there");
  assert.equal(await shOk(holder, "systemctl is-active keepalived haproxy || true"), "inactive\ninactive");
  for (const lb of staying) assert.doesNotMatch(await shOk(lb, "cat /etc/keepalived/keepalived.conf"), new RegExp(`${addr(holder).replaceAll(".", "\\.")}\\b`), `${lb}: no peer ${holder}`);
  await statusHealthy();
  assert.deepEqual(f.load.etcd?.lost, [], "no acknowledged etcd write lost");
  // The hand-over: the VIP was seen on the next host at `moved`; only probes in flight through the
  // old holder then may fail (test/helpers/vip-move.ts says how), none that started after it.
  const moved = movedAt(f.vipEvents, f.vipTimes, holder)!;
  const failed = failedProbes(f.load);
  const timeline = moveTimeline(failed, moved);
  t.diagnostic(`VIP hand-over ${holder} -> ${next}: ${failed.length} failed probes${timeline ? `\n${timeline}` : ""}`);
  assert.deepEqual(failed.filter((x) => x.start >= moved), [], `probes that started after the VIP moved failed:\n${timeline}`);
  assert.deepEqual(failed.filter((x) => !strandedBy(x, moved)), [], `failures other than a connection in flight at the move, reset or stranded:\n${timeline}`);
});
