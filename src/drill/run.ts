/**
 * `kubeha drill`: for each LB profile and scenario, start the probes, inject the fault, hold it,
 * undo it, wait until `status` says healthy, read back every etcd write, compute the figures.
 * The planning is in scenarios.ts, the math in figures.ts, the sockets in probes.ts and watch.ts;
 * this file is the sequence and the bookkeeping.
 */
import { performance } from "node:perf_hooks";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import type { Cluster, Host } from "../spec/model.ts";
import { hostByName } from "../spec/model.ts";
import { ConnectionPool } from "../exec/pool.ts";
import { KubehaError } from "../errors.ts";
import { ensureState } from "../pki/index.ts";
import { issueLeaf } from "../pki/x509.ts";
import { vipCandidate } from "../probe/status.ts";
import type { StatusReport } from "../probe/status.ts";
import { status as readStatus, stateCertificates } from "../status.ts";
import type { Secrets } from "../render/types.ts";
import { planScenario, type Action, type ScenarioPlan } from "./scenarios.ts";
import { startApiProbe, startEtcdWriter, readBack, deletePrefix, type EtcdClientOptions } from "./probes.ts";
import { API_PROBE_PATH, probeTargets } from "./load.ts";
import { computeFigures } from "./figures.ts";
import { persistentFigures, startPersistentClients, type LaneResult } from "./persistent.ts";
import { vipSettled, watchVip, type VipWatcher } from "./watch.ts";
import { leaderMoved, pollLease, takeoverGap, type LeasePoller } from "./leader.ts";
import type { Machines } from "./machines.ts";
import { lbProfile, profileSummary, vipSettleMs } from "./profiles.ts";
import { comparisonRows, distributionRows } from "./compare.ts";
import type { ApiSample, DrillReport, Mark, ProfileName, ScenarioName, ScenarioResult } from "./types.ts";
import { runsExternalEtcd } from "../spec/topology.ts";

export interface DrillOptions {
  scenarios: ScenarioName[];
  /** Each scenario runs this many times per profile, back to back (default 1). */
  runs?: number;
  /** "kubeha" first; seed profiles with `--compare seeds`. */
  profiles: ProfileName[];
  /** Power control; scenarios that need it fail without. */
  machines?: Machines;
  /** API probe rate (default 50/s) and per-request timeout (default 1000 ms). */
  rateHz?: number;
  timeoutMs?: number;
  /**
   * Persistent clients (client-go-like, one long-lived connection each) beside the probe: how many
   * (default 3; 0 = off), their GET interval (default 200 ms) and HTTP/2 health check (default
   * client-go's: PING after 30 s read-idle, 15 s PING timeout).
   */
  persistentClients?: number;
  persistentIntervalMs?: number;
  readIdleMs?: number;
  pingTimeoutMs?: number;
  /** Time between etcd writes (default 20 ms). */
  etcdIntervalMs?: number;
  /** Longest a fault is held while waiting for the cluster to route around it (default 45 s). */
  maxHoldMs?: number;
  /** Longest wait for `status` to say healthy (before a scenario and after a restore; default 120 s). */
  healthyTimeoutMs?: number;
  /** Probing before the fault, to show a clean baseline (default 1500 ms). */
  baselineMs?: number;
  /** One line per step. */
  progress?: (line: string) => void;
  /** Status reader (tests can count calls); default `kubeha status`. */
  status?: (c: Cluster) => Promise<StatusReport>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Ctx {
  c: Cluster;
  o: Required<Omit<DrillOptions, "machines" | "progress" | "status">> & Pick<DrillOptions, "machines">;
  say: (s: string) => void;
  pool: ConnectionPool;
  status: (c: Cluster) => Promise<StatusReport>;
  api: { url: string; ca: string; servername: string };
  etcd?: Omit<EtcdClientOptions, "prefix" | "timeoutMs">;
  secrets: Secrets;
  runId: string;
}

/** Runs the drill and returns its report. Throws only when the drill cannot start at all. */
export async function drill(c: Cluster, opts: DrillOptions): Promise<DrillReport> {
  const o = {
    scenarios: opts.scenarios,
    profiles: opts.profiles,
    runs: opts.runs ?? 1,
    persistentClients: opts.persistentClients ?? 3,
    persistentIntervalMs: opts.persistentIntervalMs ?? 200,
    readIdleMs: opts.readIdleMs ?? 30_000,
    pingTimeoutMs: opts.pingTimeoutMs ?? 15_000,
    machines: opts.machines,
    rateHz: opts.rateHz ?? 50,
    timeoutMs: opts.timeoutMs ?? 1000,
    etcdIntervalMs: opts.etcdIntervalMs ?? 20,
    maxHoldMs: opts.maxHoldMs ?? 45_000,
    healthyTimeoutMs: opts.healthyTimeoutMs ?? 120_000,
    baselineMs: opts.baselineMs ?? 1500,
  };
  const say = opts.progress ?? (() => {});
  const startedAt = new Date().toISOString();
  const state = await ensureState(c);
  const targets = await probeTargets(c);
  // Read once: parsing them in every status poll stalled the probes, which share this event loop.
  const certificates = opts.status ? undefined : await stateCertificates(c);
  const ctx: Ctx = {
    c,
    o,
    say,
    pool: new ConnectionPool({ connectAttempts: 1, connectTimeoutMs: 5000, keepaliveIntervalMs: 2000 }),
    status: opts.status ?? ((x) => readStatus(x, { certificates })),
    api: targets.api,
    ...(targets.etcd ? { etcd: targets.etcd } : {}),
    secrets: state.secrets,
    runId: `${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`,
  };

  const first = await ctx.status(c);
  if (!first.healthy) {
    throw new KubehaError(
      `cluster ${c.name} is not healthy, so a drill would measure the wrong thing:\n  ${first.problems.join("\n  ")}`,
      "run `kubeha status FILE` and `kubeha apply FILE` until it is healthy, then drill",
    );
  }
  const description = first.kubernetes.description;
  const standIn = description && /stand-in/i.test(description) ? description : null;
  if (standIn) say(`note: the control plane runs STAND-INS (${standIn}); these are not Kubernetes results`);

  const results: ScenarioResult[] = [];
  try {
    for (const profile of o.profiles) {
      if (profile !== "kubeha" || o.profiles.length > 1) await useProfile(ctx, profile);
      for (const name of o.scenarios) {
        for (let run = 1; run <= o.runs; run++) results.push(await runScenario(ctx, name, profile, run));
      }
    }
  } finally {
    try {
      if (o.profiles.some((p) => p !== "kubeha")) await useProfile(ctx, "kubeha");
    } finally {
      await ctx.pool.closeAll();
    }
  }
  return {
    version: 1,
    cluster: c.name,
    endpoint: `${c.endpoint.host}:${c.endpoint.port}`,
    startedAt,
    finishedAt: new Date().toISOString(),
    probe: { from: "the machine running kubeha", path: API_PROBE_PATH, rateHz: o.rateHz, timeoutMs: o.timeoutMs, etcdIntervalMs: o.etcdIntervalMs },
    persistentClients: o.persistentClients > 0 ? { clients: o.persistentClients, intervalMs: o.persistentIntervalMs, readIdleMs: o.readIdleMs, pingTimeoutMs: o.pingTimeoutMs } : null,
    standIn,
    runs: o.runs,
    scenarios: results,
    distributions: distributionRows(results),
    comparison: comparisonRows(results),
  };
}

/** Puts profile `p`'s haproxy/keepalived configuration on every LB host and waits for health. */
async function useProfile(ctx: Ctx, p: ProfileName): Promise<void> {
  const { c } = ctx;
  ctx.say(`profile ${p}: ${profileSummary(p)}`);
  const lbs = c.hosts.filter((h) => vipCandidate(c, h));
  await Promise.all(
    lbs.map(async (h) => {
      const t = await ctx.pool.get(h);
      const { files, remove, daemonReload, packages } = lbProfile(c, h, p, ctx.secrets);
      if (packages.length) {
        const pk = packages.join(" ");
        await t.mustRun(`dpkg -s ${pk} >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -q ${pk}`, {
          sudo: true,
          timeoutMs: 320_000,
          hint: `the ${p} configuration's checks need ${pk} on ${h.name}; install it there`,
        });
      }
      await t.putMany(files);
      const steps = [...(remove.length ? [`rm -f ${remove.join(" ")}`] : []), ...(daemonReload ? ["systemctl daemon-reload"] : []), "systemctl restart haproxy.service keepalived.service"];
      await t.mustRun(steps.join(" && "), {
        sudo: true,
        timeoutMs: 60_000,
        hint: `the ${p} configuration did not start on ${h.name}; \`kubeha apply FILE\` puts kubeha's back`,
      });
    }),
  );
  const last = { why: "" };
  if ((await waitHealthy(ctx, last)) === null) ctx.say(`profile ${p}: not healthy after ${ctx.o.healthyTimeoutMs} ms${stillSaid(last)}; scenarios will report it`);
}

/**
 * Polls status until healthy: that report, or null at the deadline (`last` then says why). With
 * `settled`, also until no Lease is changing hands: status calls a Lease that expired within the
 * handover grace healthy (a follower takes it within seconds), but a scenario planned then finds
 * no leader (after lb-partition the controller-manager leader, cut off from its API server, had
 * given up its Lease while the followers had not yet taken it).
 */
async function waitHealthy(ctx: Ctx, last?: { why: string }, o: { settled?: boolean } = {}): Promise<StatusReport | null> {
  const deadline = performance.now() + ctx.o.healthyTimeoutMs;
  while (performance.now() < deadline) {
    const r = await ctx.status(ctx.c).catch((err: unknown) => void (last && (last.why = `status failed: ${(err as Error).message.split("\n")[0]}`)));
    const changing = r ? r.leaders.filter((l) => l.leaderless).map((l) => `${l.component} leader changing hands`) : [];
    if (r?.healthy && !(o.settled && changing.length)) return r;
    if (r && last) last.why = [...r.problems, ...(o.settled ? changing : [])].join("; ");
    await sleep(500);
  }
  return null;
}

/** " (status still said: …)" for a problem text, bounded. */
function stillSaid(last: { why: string }): string {
  if (!last.why) return "";
  return ` (status still said: ${last.why.length > 400 ? `${last.why.slice(0, 400)}…` : last.why})`;
}

async function doActions(ctx: Ctx, actions: Action[], w: VipWatcher | undefined, problems: string[]): Promise<void> {
  await Promise.all(
    actions.map(async (a) => {
      const h = hostByName(ctx.c, a.host);
      try {
        if (a.kind === "run") {
          const t = await ctx.pool.get(h);
          await t.mustRun(a.command, { sudo: true, timeoutMs: 60_000, hint: `the drill could not ${a.what} on ${h.name}` });
        } else if (!ctx.o.machines) {
          throw new KubehaError(`powering ${h.name} ${a.kind === "power-off" ? "off" : "on"} needs power control`, "pass --lab NAME, or --power-off/--power-on commands");
        } else if (a.kind === "power-off") {
          await cutPower(ctx.o.machines, h, w);
        } else {
          await ctx.o.machines.powerOn(h);
          await ctx.pool.drop(h); // its old connection died with it
        }
      } catch (err) {
        problems.push(`${a.kind === "run" ? a.what : a.kind} on ${h.name}: ${(err as Error).message.split("\n")[0]}`);
      }
    }),
  );
}

/**
 * Powers `h` off and tells the VIP watcher. A machine whose power is being cut answers nobody, so
 * it holds nothing from the moment the power-off starts: the lab's SIGKILL lands within a few ms,
 * while the call returns only once the machine's cgroups are gone (100-300 ms later). Telling the
 * watcher only then counted the dead holder as a holder for that long: "two holders" at the fault
 * and a late "VIP moved" (that needs a single holder). It is told again when the call returns: an
 * operator's power-off command may take longer than the watcher's reconnect, which then reads
 * the still-running machine's addresses afresh.
 */
export async function cutPower(machines: Pick<Machines, "powerOff">, h: Host, w: Pick<VipWatcher, "gone"> | undefined): Promise<void> {
  w?.gone(h.name);
  try {
    await machines.powerOff(h);
  } finally {
    w?.gone(h.name);
  }
}

/** The scenario's plan against `vipHolders` and the leaders `status` saw. */
function replan(c: Cluster, name: ScenarioName, st: StatusReport, vipHolders: string[]): ScenarioPlan {
  const leaders = Object.fromEntries(st.leaders.flatMap((l) => (!l.leaderless && l.host ? [[l.component, l.host]] : [])));
  return planScenario(c, name, { vipHolders, ...(st.etcd.leader ? { etcdLeader: st.etcd.leader } : {}), leaders });
}

/**
 * Waits until one host has held the VIP for as long as it may still move by itself (vipSettleMs):
 * that host and the time the wait ended, or undefined (with a problem) when the VIP did not sit
 * still within the healthy timeout.
 */
async function settleVip(ctx: Ctx, w: VipWatcher, profile: ProfileName, now: () => number, problems: string[]): Promise<{ holder: string; t: number } | undefined> {
  const quietMs = vipSettleMs(ctx.c, profile);
  const holder = await vipSettled(w, now, { quietMs, timeoutMs: ctx.o.healthyTimeoutMs });
  if (holder === null) {
    problems.push(`the VIP did not stay on one host for ${quietMs} ms within ${ctx.o.healthyTimeoutMs} ms (holders now: ${w.holders().join(", ") || "none"})`);
    return undefined;
  }
  return { holder, t: now() };
}

/** Longest current run of successes at the end of `samples` (ms), for "recovered" holds. */
function trailingOkMs(samples: readonly ApiSample[], now: number): number {
  for (let i = samples.length - 1; i >= 0; i--) if (!samples[i]!.ok) return now - samples[i]!.t;
  return samples.length ? now - samples[0]!.t : 0;
}

async function runScenario(ctx: Ctx, name: ScenarioName, profile: ProfileName, run: number): Promise<ScenarioResult> {
  const { c, o, say } = ctx;
  const label = `${name} [${profile}]${o.runs > 1 ? ` run ${run}/${o.runs}` : ""}`;
  const problems: string[] = [];
  const marks: Mark[] = [];

  // Start from a healthy, settled cluster, and plan against who holds what right now.
  const lastBefore = { why: "" };
  let before = await waitHealthy(ctx, lastBefore, { settled: true });
  if (!before) {
    problems.push(`not healthy before the scenario (waited ${o.healthyTimeoutMs} ms)${stillSaid(lastBefore)}`);
    before = await ctx.status(c);
  }
  let plan: ScenarioPlan;
  try {
    plan = replan(c, name, before, before.vip.holders);
  } catch (err) {
    say(`${label}: cannot run: ${(err as Error).message}`);
    return emptyResult(name, profile, run, [(err as Error).message]);
  }
  if (plan.needsPower && !o.machines) {
    const why = `${name} powers a machine off: pass --lab NAME or --power-off/--power-on commands`;
    say(`${label}: cannot run: ${why}`);
    return emptyResult(name, profile, run, [why], plan);
  }

  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  const mark = (kind: Mark["kind"], text: string) => {
    marks.push({ t: Math.round(now()), kind, label: text });
  };
  // A scenario whose own target needs a longer hold than --max-hold gets it (Hold.atLeastMs).
  const maxHoldMs = Math.max(o.maxHoldMs, plan.hold.atLeastMs ?? 0);
  const capMs = o.baselineMs + maxHoldMs + o.healthyTimeoutMs + 30_000;
  const lbs = c.hosts.filter((h) => vipCandidate(c, h));
  const watcher = lbs.length ? watchVip(c, lbs, now, { maxMs: capMs }) : undefined;
  if (watcher && !(await watcher.ready(10_000))) problems.push("the VIP watcher could not read every LB host");
  // A keepalived that preempts (the seeds') takes the VIP back to its preferred host once that
  // host's check passes again and a master-down interval later, which can be after `status` said
  // healthy: a plan made from that status faulted a host that had meanwhile lost the VIP (4 of 10
  // seed-002 runs). So the VIP sits still for that long before the probes start, and the plan
  // follows the holder the watcher sees then.
  const settledAt = watcher ? await settleVip(ctx, watcher, profile, now, problems) : undefined;
  if (watcher && settledAt && settledAt.holder !== before.vip.holders.join()) {
    try {
      plan = replan(c, name, before, [settledAt.holder]);
      mark("note", `the VIP went to ${settledAt.holder} after status was read; planned against it`);
    } catch (err) {
      say(`${label}: cannot run: ${(err as Error).message}`);
      await watcher.stop();
      return emptyResult(name, profile, run, [(err as Error).message]);
    }
  }
  const api = startApiProbe({ ...ctx.api, rateHz: o.rateHz, timeoutMs: o.timeoutMs, maxCount: Math.ceil((capMs / 1000) * o.rateHz), maxMs: capMs, t0, maxInFlight: 64 });
  const prefix = `/kubeha-drill/${ctx.runId}/${name}/${profile}/${run}`;
  const etcd = ctx.etcd
    ? startEtcdWriter({ ...ctx.etcd, prefix, timeoutMs: 1000, intervalMs: o.etcdIntervalMs, maxCount: Math.ceil(capMs / o.etcdIntervalMs), maxMs: capMs, t0 })
    : undefined;
  const lane = startLane(ctx, t0, capMs, problems);
  await sleep(o.baselineMs);

  if (plan.prepare) await doActions(ctx, plan.prepare, watcher, problems);
  // Leader scenarios: the Lease is read from before the fault on, so its last renewals are seen.
  const lease: LeasePoller | undefined = plan.lease
    ? pollLease((h) => ctx.pool.get(h), hostByName(c, plan.lease.via), plan.lease.component, now, { intervalMs: 500, maxMs: maxHoldMs + 30_000 })
    : undefined;
  if (lease) await sleep(1500);
  say(`${label}: fault: ${plan.fault}`);
  const holdersBefore = watcher?.holders() ?? [];
  if (settledAt && watcher!.events.some((e) => e.t > settledAt.t)) {
    problems.push(`the VIP moved before the fault (to ${holdersBefore.join(", ") || "nobody"}), so this run does not measure ${name} alone`);
  }
  // The fault's time is when its command is sent (a command's own latency is a few ms).
  const faultWallMs = Date.now();
  mark("fault", plan.fault);
  await doActions(ctx, plan.inject, watcher, problems);
  const holdStart = now();

  // One `status` while the fault is on: it must say degraded (and name a split brain if there is one).
  let splitDetectedByStatus = false;
  let statusDuringFault: Promise<void> | undefined;
  const checkStatus = () =>
    (statusDuringFault ??= ctx.status(c).then(
      (r) => {
        splitDetectedByStatus = r.problems.some((p) => p.startsWith("split brain"));
        mark("note", r.healthy ? "status during the fault: healthy" : `status during the fault: degraded (${r.problems.length} problems)`);
        if (r.healthy && plan.statusDegraded) problems.push("`kubeha status` reported healthy while the fault was injected");
      },
      (err: unknown) => void problems.push(`status during the fault failed: ${(err as Error).message}`),
    ));

  // Hold the fault.
  let sawSplit = false;
  let singleSince: number | undefined;
  let movedSince: number | undefined;
  for (;;) {
    await sleep(100);
    const t = now();
    const held = t - holdStart;
    const holders = watcher?.holders() ?? [];
    if (holders.length >= 2 && !sawSplit) {
      sawSplit = true;
      if (plan.hold.until === "split") mark("note", `split brain: ${holders.join(", ")} hold the VIP`);
    }
    if (plan.hold.until === "split" ? sawSplit && held >= 300 : held >= 1000) void checkStatus();
    if (held >= maxHoldMs) {
      if (plan.hold.until !== "fixed") mark("note", `held the maximum ${maxHoldMs} ms`);
      break;
    }
    if (held < plan.hold.minMs) continue;
    if (plan.hold.until === "fixed") break;
    if (plan.hold.until === "recovered") {
      if ((!watcher || holders.length === 1) && trailingOkMs(api.peek(), t) >= plan.hold.settleMs) break;
    } else if (plan.hold.until === "leader-moved") {
      const cur = lease?.current();
      if (movedSince === undefined && cur && cur.host !== "" && cur.host !== plan.lease?.before) {
        movedSince = t;
        mark("note", `${plan.lease?.component} Lease held by ${cur.host}`);
      }
      if (movedSince !== undefined && t - movedSince >= plan.hold.settleMs) break;
    } else if (plan.hold.until === "single-holder") {
      if (holders.length === 1) singleSince ??= t;
      else singleSince = undefined;
      if (singleSince !== undefined && t - singleSince >= plan.hold.settleMs) break;
    } else if (sawSplit && statusDuringFault && held >= plan.hold.minMs + plan.hold.settleMs) break;
  }
  void checkStatus();
  await statusDuringFault;
  const singleHolderBeforeRestore = (watcher?.holders().length ?? 1) === 1;
  await lease?.stop();

  say(`${label}: restore`);
  mark("restore", plan.restore.map((a) => (a.kind === "run" ? a.what : a.kind)).join("; ") + ` (${plan.targets.join(", ")})`);
  await doActions(ctx, plan.restore, watcher, problems);
  const lastAfter = { why: "" };
  if ((await waitHealthy(ctx, lastAfter)) === null) problems.push(`not healthy ${o.healthyTimeoutMs} ms after the restore${stillSaid(lastAfter)}`);
  else mark("healthy", "status: healthy");
  await sleep(1000);

  const samples = await api.stop();
  const persistent = lane ? await lane.stop().then((r) => (r.clients.length ? persistentFigures(r) : null), (err: unknown) => {
    problems.push(`persistent clients: ${(err as Error).message.split("\n")[0]}`);
    return null;
  }) : null;
  const writes = etcd ? await etcd.stop() : [];
  await watcher?.stop();
  const endT = Math.round(now());
  let read = new Map<number, string>();
  if (ctx.etcd) {
    try {
      read = await readBack({ ...ctx.etcd, prefix, timeoutMs: 5000 });
      await deletePrefix({ ...ctx.etcd, prefix, timeoutMs: 5000 }).catch(() => 0);
    } catch (err) {
      problems.push(`reading back the etcd writes failed: ${(err as Error).message}`);
    }
  }
  const vip = watcher?.events ?? [];
  const figures = computeFigures({ samples, writes, read, vip, marks, endT, vipBefore: holdersBefore });
  const faultT = marks.find((m) => m.kind === "fault")?.t ?? 0;
  if (plan.lease && lease) figures.leaderMovedMs = leaderMoved(lease.samples, plan.lease.before, faultT, faultWallMs);
  const takeoverGapMs = plan.lease && lease ? takeoverGap(lease.samples, plan.lease.before) : null;
  const checks = plan.targetsFor(profile).map((tg) => ({ name: tg.name, ...tg.check(figures, { splitDetectedByStatus, singleHolderBeforeRestore, takeoverGapMs }) }));
  const failed = checks.filter((x) => !x.ok);
  say(
    `${label}: blackout ${figures.blackoutMs} ms, ${figures.failedProbes}/${figures.totalProbes} probes failed${figures.unsentProbes ? ` (${figures.unsentProbes} not sent: the probing process was late)` : ""}, VIP moved ${figures.vipMovedMs ?? "-"} ms, ` +
      `two holders ${figures.splitBrainMs} ms, ` +
      (figures.leaderMovedMs !== undefined ? `leader moved ${figures.leaderMovedMs ?? "-"} ms, ` : "") +
      (persistent ? `persistent clients (${persistent.protocol}) ${persistent.longestNoAnswerMs} ms without an answer, ${persistent.reconnects} reconnects, ` : "") +
      `healthy ${figures.healthyAfterMs ?? "-"} ms after restore, etcd ${figures.etcdAcked} acked / ${figures.etcdFailed} failed / ${figures.etcdLost} lost` +
      (failed.length ? ` — FAILED: ${failed.map((x) => x.name).join("; ")}` : "") +
      (problems.length ? ` — PROBLEMS: ${problems.join("; ")}` : ""),
  );
  return {
    scenario: name,
    profile,
    run,
    targets: plan.targets,
    fault: plan.fault,
    expectation: plan.expectation,
    startedAt,
    durationMs: endT,
    samples,
    writes,
    vip,
    ...(plan.lease && lease ? { lease: { component: plan.lease.component, before: plan.lease.before, samples: lease.samples } } : {}),
    marks,
    figures,
    persistent,
    checks,
    problems,
  };
}

/** Starts the persistent-client lane; a lane that cannot start is a problem, not a failed drill. */
function startLane(ctx: Ctx, t0: number, capMs: number, problems: string[]): { stop: () => Promise<LaneResult> } | undefined {
  if (ctx.o.persistentClients <= 0) return undefined;
  try {
    const l = startPersistentClients({
      url: ctx.api.url, ca: ctx.api.ca, servername: ctx.api.servername, clients: ctx.o.persistentClients,
      intervalMs: ctx.o.persistentIntervalMs, readIdleMs: ctx.o.readIdleMs, pingTimeoutMs: ctx.o.pingTimeoutMs, t0, maxMs: capMs,
    });
    l.ready.catch((err: unknown) => problems.push(`persistent clients could not start: ${(err as Error).message.split("\n")[0]}`));
    return l;
  } catch (err) {
    problems.push(`persistent clients could not start: ${(err as Error).message.split("\n")[0]}`);
    return undefined;
  }
}

function emptyResult(scenario: ScenarioName, profile: ProfileName, run: number, problems: string[], plan?: ScenarioPlan): ScenarioResult {
  return {
    scenario,
    profile,
    run,
    targets: plan?.targets ?? [],
    fault: plan?.fault ?? "not run",
    expectation: plan?.expectation ?? "",
    startedAt: new Date().toISOString(),
    durationMs: 0,
    samples: [],
    writes: [],
    vip: [],
    marks: [],
    persistent: null,
    figures: { blackoutMs: 0, failedProbes: 0, totalProbes: 0, vipMovedMs: null, splitBrainMs: 0, healthyAfterMs: null, etcdAcked: 0, etcdFailed: 0, etcdLost: 0 },
    checks: [],
    problems,
  };
}

/** True when every scenario ran, passed its checks and reported no problem. */
export function drillPassed(r: DrillReport): boolean {
  return r.scenarios.every((s) => s.problems.length === 0 && s.checks.every((x) => x.ok));
}

