/**
 * Benchmark (not a test): does the VRRP VIP stay put when nothing fails? A 3-master lab (HAProxy +
 * keepalived on each master, so three LB hosts; Kubernetes binaries are the stand-ins) is left
 * alone for N minutes, optionally with every core busy (`stress-ng --cpu K` on this machine, which
 * runs the lab's machines too), while the VIP holders are watched on every LB host
 * (src/drill/watch.ts, `ip monitor address` over SSH). Any change of holders after the start is a
 * spurious VIP move: the target is 0. keepalived's own journal ("Entering MASTER/BACKUP/FAULT
 * STATE") is read afterwards as a second, independent count, so a move the watcher could miss while
 * its SSH stream reconnected is still seen.
 *
 *   sudo node --import tsx bench/vip-soak.ts [--minutes 30] [--advert-ms MS] [--stress K]
 *     [--churn K] [--reloads N] [--drill-runs N] [--keep] [--reuse] [--name LAB --subnet CIDR]
 *     (default lab d-soak on 198.19.131.0/24)
 *
 * `--advert-ms` sets the cluster's `keepalived.advertInterval` (10-990 ms, VRRPv3) before apply; without it
 * the lab's cluster file keeps kubeha's default (10 ms).
 * `--drill-runs N` then runs `lb-machine-down` N times on the same lab and prints the "VIP moved"
 * figure (the detection time after the holder loses power) as min / p50 / p95 / max.
 * `--churn K` adds the load that made 25 ms adverts flap once (a neighbour's lab booting): a second
 * lab of K machines (LAB-churn on 198.19.132.0/24, nothing applied to it) whose machines are pulled
 * and booted again one after the other, as fast as they boot, for the whole soak.
 * `--reloads N` runs `systemctl reload keepalived` on every LB host at once, N times spread over
 * the soak (how apply hands LB hosts a new peer list): a reload must not move the VIP either.
 * `--peer-change` makes every round a real peer-list change, as apply's when an LB host joins or
 * leaves: each round adds, then removes, one unicast peer (the lab subnet's .250, which no machine
 * has) in every host's keepalived.conf before the reload.
 * `--keep` leaves the lab up; `--reuse` applies to a lab kept earlier instead of making a new one.
 * Exit status 1 when the VIP moved during the soak.
 */
import { spawn } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { labDown, labStart, labStatus, labStop, labUp } from "../src/lab/index.ts";
import { loadCluster } from "../src/spec/read.ts";
import { apply } from "../src/apply.ts";
import { ConnectionPool } from "../src/exec/pool.ts";
import { watchVip } from "../src/drill/watch.ts";
import { drill } from "../src/drill/run.ts";
import { labMachines } from "../src/drill/machines.ts";
import { renderDrillSummary } from "../src/drill/summary.ts";
import { usesKeepalived, keepalivedHosts } from "../src/spec/topology.ts";
import { REPO } from "../test/helpers/cli.ts";
import { benchArgs } from "./args.ts";
import { PATHS } from "../src/render/paths.ts";

const { values } = benchArgs(import.meta.url, {
  minutes: { type: "string", default: "30" },
  "advert-ms": { type: "string" },
  stress: { type: "string", default: "0" },
  churn: { type: "string", default: "0" },
  reloads: { type: "string", default: "0" },
  "peer-change": { type: "boolean" },
  "drill-runs": { type: "string", default: "0" },
  keep: { type: "boolean" },
  reuse: { type: "boolean" },
  name: { type: "string", default: "d-soak" },
  subnet: { type: "string", default: "198.19.131.0/24" },
});
const whole = (flag: string, v: string, min: number) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    console.error(`vip-soak: --${flag} must be a whole number >= ${min}, got ${v}`);
    process.exit(2);
  }
  return n;
};
const minutes = Number(values.minutes);
if (!(minutes > 0)) {
  console.error(`vip-soak: --minutes must be a positive number, got ${values.minutes}`);
  process.exit(2);
}
const stressCpus = whole("stress", values.stress, 0);
const churnMachines = whole("churn", values.churn, 0);
const reloadRounds = whole("reloads", values.reloads, 0);
const peerChange = values["peer-change"] === true;
const spare = /^(\d+\.\d+\.\d+)\.0\/24$/.exec(values.subnet)?.[1];
if (peerChange && !spare) {
  console.error(`vip-soak: --peer-change needs a /24 --subnet (its .250 is the spare peer), got ${values.subnet}`);
  process.exit(2);
}
/** The shell step that adds (odd rounds) or removes (even rounds) the spare unicast peer. */
const peerStep = (round: number) =>
  round % 2 === 1
    ? `sed -i '/^ *unicast_peer {/a\\        ${spare}.250' ${PATHS.keepalivedConf}`
    : `sed -i '/^ *${spare!.replace(/\./g, "\\.")}\\.250$/d' ${PATHS.keepalivedConf}`;
const CHURN = `${values.name}-churn`;
const drillRuns = whole("drill-runs", values["drill-runs"], 0);
const advertMs = values["advert-ms"] === undefined ? undefined : whole("advert-ms", values["advert-ms"], 10);
const NAME = values.name;
const dir = join(REPO, "test-output", "vip-soak", NAME);
const load = () => os.loadavg().map((x) => x.toFixed(2)).join(" ");
const log = (s: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${s}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

if (!values.reuse) {
  await labDown(NAME);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  log(`lab up ${NAME} (${values.subnet}), load ${load()}`);
  await labUp({ name: NAME, subnet: values.subnet, masters: 3, workers: 0, dir, bundle: join(REPO, "test/standins/bundle") });
}
let spurious = 0;
let stress: ReturnType<typeof spawn> | undefined;
let churn: { stop(): Promise<number> } | undefined;
/** Pulls and boots the churn lab's machines one after the other until stopped; resolves to the boots done. */
function startChurn(): { stop(): Promise<number> } {
  let stop = false;
  let boots = 0;
  const loop = (async () => {
    const names = (await labStatus(CHURN)).machines.map((m) => m.name);
    for (let i = 0; !stop && i < 100_000; i++) {
      const m = names[i % names.length]!;
      await labStop(CHURN, m, { hard: true });
      await labStart(CHURN, m);
      boots++;
    }
  })();
  return {
    async stop() {
      stop = true;
      await loop;
      return boots;
    },
  };
}
try {
  // Inside the try: a churn lab that fails to come up still takes the soak's lab down with it.
  if (churnMachines > 0) {
    await labDown(CHURN);
    const churnDir = join(REPO, "test-output", "vip-soak", CHURN);
    rmSync(churnDir, { recursive: true, force: true });
    mkdirSync(churnDir, { recursive: true });
    log(`churn lab up ${CHURN} (${churnMachines} machines), load ${load()}`);
    await labUp({ name: CHURN, subnet: "198.19.132.0/24", masters: 1, workers: churnMachines - 1, dir: churnDir, bundle: join(REPO, "test/standins/bundle") });
  }
  const { cluster } = await loadCluster(join(dir, "cluster.yaml"));
  if (!usesKeepalived(cluster)) throw new Error(`the cluster of lab ${NAME} has no keepalived`);
  const ka = cluster.endpoint.keepalived;
  if (advertMs !== undefined) ka.advertInterval = advertMs / 1000;
  log(`apply (advert_int ${ka.advertInterval} s), load ${load()}`);
  await apply(cluster);
  const lbs = keepalivedHosts(cluster);

  // A restarted keepalived starts as BACKUP and elects after a few adverts: let it settle first.
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  const soakMs = minutes * 60_000;
  const watcher = watchVip(cluster, lbs, now, { maxMs: soakMs + 120_000 });
  if (!(await watcher.ready(60_000))) throw new Error("the VIP watchers did not report within 60 s");
  for (let i = 0; watcher.holders().length !== 1; i++) {
    if (i >= 60) throw new Error(`no single VIP holder after 30 s: ${watcher.holders().join(", ") || "none"}`);
    await sleep(500);
  }
  await sleep(10_000);
  const startEvents = watcher.events.length;
  const holder = watcher.holders();
  if (holder.length !== 1) throw new Error(`VIP holders after settling: ${holder.join(", ") || "none"}`);
  const startEpoch = Math.floor(Date.now() / 1000);
  const startT = now();

  if (stressCpus > 0) {
    stress = spawn("stress-ng", ["--cpu", String(stressCpus), "--quiet"], { stdio: "ignore" });
    log(`stress-ng --cpu ${stressCpus} started (pid ${stress.pid})`);
  }
  if (churnMachines > 0) churn = startChurn();
  log(`soak ${minutes} min, holder ${holder[0]}, ${lbs.length} LB hosts, load ${load()}`);
  const loads: number[] = [];
  const reloadPool = new ConnectionPool();
  let reloadsDone = 0;
  for (let m = 0; now() - startT < soakMs; m++) {
    // The next reload round (evenly spread, the first after one interval) or the next minute mark.
    const nextReload = reloadsDone < reloadRounds ? ((reloadsDone + 1) * soakMs) / (reloadRounds + 1) : Infinity;
    const nextMinute = (Math.floor((now() - startT) / 60_000) + 1) * 60_000;
    const reloadNow = nextReload < Math.min(nextMinute, soakMs);
    await sleep(Math.max(0, Math.min(nextMinute, nextReload, soakMs) - (now() - startT)));
    if (reloadNow) {
      const step = peerChange ? `${peerStep(reloadsDone + 1)} && ` : "";
      await Promise.all(lbs.map(async (h) => (await reloadPool.get(h)).mustRun(`${step}systemctl reload keepalived`, { sudo: true, timeoutMs: 30_000 })));
      reloadsDone++;
      log(`reload round ${reloadsDone}/${reloadRounds}${peerChange ? (reloadsDone % 2 ? " (peer added)" : " (peer removed)") : ""} on ${lbs.length} LB hosts: holders ${watcher.holders().join(",") || "none"}, moves ${watcher.events.length - startEvents}`);
      continue;
    }
    loads.push(os.loadavg()[0]!);
    const moves = watcher.events.length - startEvents;
    log(`minute ${(((now() - startT) / 60_000)).toFixed(1)}: holders ${watcher.holders().join(",") || "none"}, moves ${moves}, load ${load()}`);
  }
  await reloadPool.closeAll();
  const endT = now();
  const boots = churn ? await churn.stop() : 0;
  churn = undefined;
  if (stress?.pid) {
    process.kill(stress.pid, "SIGTERM");
    await new Promise((r) => stress!.once("exit", r));
    stress = undefined;
  }
  await watcher.stop();

  const moves = watcher.events.slice(startEvents).filter((e) => e.t <= endT);
  spurious = moves.length;
  // Time with no holder or with two, from the watcher's events.
  let none = 0;
  let two = 0;
  let prev = { t: startT, holders: holder };
  for (const e of [...moves, { t: endT, holders: holder }]) {
    if (prev.holders.length === 0) none += e.t - prev.t;
    if (prev.holders.length > 1) two += e.t - prev.t;
    prev = e;
  }

  // keepalived's own view: every state change it logged since the soak started.
  const pool = new ConnectionPool();
  const journal = await Promise.all(
    lbs.map(async (h) => {
      const t = await pool.get(h);
      const r = await t.run(`journalctl -u keepalived --since @${startEpoch} --until @${startEpoch + Math.ceil((endT - startT) / 1000) + 1} -o short-unix --no-pager | grep -E 'Entering (MASTER|BACKUP|FAULT) STATE' || true`, { timeoutMs: 30_000 });
      return { host: h.name, lines: r.stdout.split("\n").filter(Boolean) };
    }),
  );
  await pool.closeAll();

  const sorted = [...loads].sort((a, b) => a - b);
  console.log(`\nVIP soak of lab ${NAME}: ${lbs.length} LB hosts, advert_int ${ka.advertInterval} s (VRRP${ka.advertInterval < 1 ? "v3" : "v2"}), preempt ${ka.preempt}, stress-ng --cpu ${stressCpus}${churnMachines ? `, churn: ${boots} boots of ${churnMachines} machines in lab ${CHURN}` : ""}${reloadRounds ? `, ${reloadsDone} rounds of keepalived reloads on every LB host` : ""}`);
  console.log(`duration ${((endT - startT) / 60_000).toFixed(1)} min; 1-min load average min ${sorted[0]?.toFixed(2)} / median ${sorted[Math.floor(sorted.length / 2)]?.toFixed(2)} / max ${sorted.at(-1)?.toFixed(2)}`);
  // A takeover: a host that did not hold the VIP starts to (a flap shows as a takeover and its undo).
  let takeovers = 0;
  let before = holder;
  for (const e of moves) {
    if (e.holders.some((h) => !before.includes(h))) takeovers++;
    before = e.holders;
  }
  console.log(`VIP holder changes seen by the watchers: ${moves.length} (${takeovers} takeovers); time with no holder ${Math.round(none)} ms, with two or more ${Math.round(two)} ms`);
  for (const e of moves) console.log(`  t=${((e.t - startT) / 1000).toFixed(1)} s holders: ${e.holders.join(", ") || "none"}`);
  const transitions = journal.reduce((n, j) => n + j.lines.length, 0);
  console.log(`keepalived state changes in the journals: ${transitions}`);
  for (const j of journal) for (const l of j.lines) console.log(`  ${j.host}: ${l}`);
  spurious = Math.max(moves.length, transitions);

  if (drillRuns > 0) {
    log(`drill lb-machine-down x ${drillRuns}, load ${load()}`);
    const machines = await labMachines(NAME, cluster.hosts);
    const report = await drill(cluster, { scenarios: ["lb-machine-down"], profiles: ["kubeha"], machines, runs: drillRuns, progress: (s) => log(`  ${s}`) });
    console.log(`\n${renderDrillSummary(report)}`);
    console.log(`load average after the drill: ${load()}`);
  }
} finally {
  if (stress?.pid) process.kill(stress.pid, "SIGTERM");
  await churn?.stop();
  if (churnMachines > 0) await labDown(CHURN);
  if (!values.keep) await labDown(NAME);
}
process.exitCode = spurious === 0 ? 0 : 1;
