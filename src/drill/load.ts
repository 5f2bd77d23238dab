/**
 * Client load through the cluster's endpoint while something else happens (a drill scenario, a
 * day-2 operation: node add/remove, certificate renewal, upgrade, replacement): API probes at a
 * fixed rate to API_PROBE_PATH through the VIP, and numbered etcd writes that are read back at the end.
 * The drill and the day-2 end-to-end tests share it, so "0 failed probes" means the same thing
 * in both.
 */
import { performance } from "node:perf_hooks";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import type { Cluster } from "../spec/model.ts";
import { hostByName } from "../spec/model.ts";
import { runsExternalEtcd } from "../spec/topology.ts";
import { issueLeaf } from "../pki/x509.ts";
import { startApiProbe, startEtcdWriter, readBack, deletePrefix, type EtcdClientOptions } from "./probes.ts";
import { LATE, SKIPPED } from "./types.ts";
import { blackout, checkZeroLoss } from "./figures.ts";
import type { ApiSample, EtcdWrite } from "./types.ts";

/** Where the probes go: the API through the endpoint, and etcd's client URLs with a client certificate. */
export interface ProbeTargets {
  api: { url: string; ca: string; servername: string };
  /** Absent when the cluster has no etcd kubeha knows of. */
  etcd?: Omit<EtcdClientOptions, "prefix" | "timeoutMs">;
}

/** A one-day etcd client certificate signed by the etcd CA, for the probes' writer (kept in memory). */
export async function drillEtcdClient(etcdCa: { cert: string; key: string }): Promise<{ cert: string; key: string }> {
  const c = await issueLeaf({ cn: "kubeha-drill", o: [], isCA: false, extUsages: ["clientAuth"], dns: [], ips: [] }, "ecdsa-p256", etcdCa, new Date(), 1);
  return { cert: c.cert!, key: c.key };
}

/**
 * What each API probe GETs through the endpoint: the apiserver's readiness without its `shutdown`
 * check. An apiserver stopping with `--shutdown-delay-duration` fails `/readyz` at once (so the load
 * balancer's checks, which use the full `/readyz`, take it out) while it goes on serving every
 * request for the delay: a client's request that lands on it then is answered. Counting those
 * answers as failures would measure the health check's own signal, not what clients get. The etcd
 * check stays in: an apiserver that cannot reach etcd fails the probe, as a client's request would.
 */
export const API_PROBE_PATH = "/readyz?exclude=shutdown";

/** The probe targets of cluster `c`, from its state directory (its CAs must exist: `ensureState` first). */
export async function probeTargets(c: Cluster): Promise<ProbeTargets> {
  const pki = (rel: string) => readFile(join(c.pki.stateDir, "pki", rel), "utf8");
  const t: ProbeTargets = {
    api: { url: `https://${c.endpoint.address}:${c.endpoint.port}${API_PROBE_PATH}`, ca: await pki("ca.crt"), servername: c.endpoint.host },
  };
  const etcdHosts = c.etcd.members.map((n) => hostByName(c, n));
  if (etcdHosts.length) {
    const endpoints = etcdHosts.map((h) => `https://${h.internalAddress}:${c.etcd.clientPort}`);
    const ca = await pki("etcd-ca.crt");
    if (etcdHosts.every((h) => runsExternalEtcd(c, h))) {
      t.etcd = { endpoints, ca, cert: await pki("apiserver-etcd-client.crt"), key: await pki("apiserver-etcd-client.key") };
    } else {
      // Stacked: kubeadm issued the members' client certificates on the hosts; kubeha holds the
      // etcd CA, so the probes sign themselves a one-day client certificate kept in memory only.
      t.etcd = { endpoints, ca, ...(await drillEtcdClient({ cert: ca, key: await pki("etcd-ca.key") })) };
    }
  }
  return t;
}

/** The API probes' default per-request limit. */
export const LOAD_PROBE_TIMEOUT_MS = 1000;

export interface LoadOptions {
  /** API probes per second (default 50). */
  rateHz?: number;
  /** Per-probe limit (default LOAD_PROBE_TIMEOUT_MS). */
  timeoutMs?: number;
  /** Time between etcd writes (default 20 ms); 0 turns the writer off. */
  etcdIntervalMs?: number;
  /** Hard bound: nothing is sent this long after the start (default 30 min). */
  maxMs?: number;
}

/** What the load saw, from its start to `stop()`. */
export interface LoadFigures {
  durationMs: number;
  probes: number;
  failedProbes: number;
  /** Longest run of consecutive failed probes (see figures.ts `blackout`). */
  blackoutMs: number;
  /** The first failures, `t=<ms> <reason>`, at most 10. */
  failures: string[];
  /** Every failed probe (send time `t` in ms since `t0`, duration, reason), for timelines. */
  failed: ApiSample[];
  /** `performance.now()` at the load's time 0: sample times plus this are on the caller's clock. */
  t0: number;
  /** The per-probe limit the load ran with. */
  timeoutMs: number;
  /** Numbered etcd writes: acknowledged, not acknowledged, and acknowledged but missing afterwards. Null without etcd. */
  etcd: { acked: number; failed: number; lost: number[] } | null;
}

export interface RunningLoad {
  /** Stops sending, waits for what is in flight, reads the writes back (and deletes them). */
  stop(): Promise<LoadFigures>;
}

/** Starts API probes (and etcd writes) against `c` now. Bounded by `maxMs` even if never stopped. */
export async function startLoad(c: Cluster, o: LoadOptions = {}, targets?: ProbeTargets): Promise<RunningLoad> {
  const tg = targets ?? (await probeTargets(c));
  const rateHz = o.rateHz ?? 50;
  const maxMs = o.maxMs ?? 30 * 60_000;
  const etcdIntervalMs = o.etcdIntervalMs ?? 20;
  const t0 = performance.now();
  const timeoutMs = o.timeoutMs ?? LOAD_PROBE_TIMEOUT_MS;
  const api = startApiProbe({ ...tg.api, rateHz, timeoutMs, maxCount: Math.ceil((maxMs / 1000) * rateHz), maxMs, t0, maxInFlight: 64 });
  const prefix = `/kubeha-load/${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
  const etcd = tg.etcd && etcdIntervalMs > 0
    ? startEtcdWriter({ ...tg.etcd, prefix, timeoutMs: 1000, intervalMs: etcdIntervalMs, maxCount: Math.ceil(maxMs / etcdIntervalMs), maxMs, t0 })
    : undefined;
  return {
    async stop() {
      const [samples, writes] = await Promise.all([api.stop(), etcd ? etcd.stop() : Promise.resolve([] as EtcdWrite[])]);
      const durationMs = Math.round(performance.now() - t0);
      let etcdFigures: LoadFigures["etcd"] = null;
      if (etcd && tg.etcd) {
        const read = await readBack({ ...tg.etcd, prefix, timeoutMs: 5000 });
        await deletePrefix({ ...tg.etcd, prefix, timeoutMs: 5000 }).catch(() => 0);
        const z = checkZeroLoss(writes, read);
        etcdFigures = { acked: z.acked, failed: z.failed, lost: z.lost };
      }
      return loadFigures(samples, durationMs, etcdFigures, t0, timeoutMs);
    },
  };
}

/** The figures of a finished load (pure). */
export function loadFigures(samples: ApiSample[], durationMs: number, etcd: LoadFigures["etcd"], t0 = 0, timeoutMs = LOAD_PROBE_TIMEOUT_MS): LoadFigures {
  const failed = samples.filter((s) => !s.ok);
  return {
    durationMs,
    probes: samples.length,
    failedProbes: failed.length,
    blackoutMs: Math.round(blackout(samples).ms),
    failures: failed.slice(0, 10).map((s) => `t=${Math.round(s.t)} ${s.error ?? "failed"}`),
    failed,
    t0,
    timeoutMs,
    etcd,
  };
}

/**
 * The probes that count against the cluster, the day-2 tests' "0 failed probes": sent and failed
 * (refused, reset, answered with an error, timed out). A slot never sent says nothing about the
 * cluster (LATE: the probing process itself ran late; SKIPPED: too many were in flight), and a
 * timeout is excused when the probing process was stalled while it waited (a LATE slot fell due
 * within its wait): the answer may have come and not been read. `loadSummary` says how many were
 * never sent; a test that must bound the stall checks `blackoutMs`, which counts them.
 */
export function sentFailures(f: LoadFigures): ApiSample[] {
  const late = f.failed.filter((x) => x.error === LATE);
  const stalledDuring = (x: ApiSample) => late.some((u) => u.t >= x.t && u.t <= x.t + f.timeoutMs);
  return f.failed.filter((x) => x.error !== LATE && x.error !== SKIPPED && !(x.error === "timeout" && stalledDuring(x)));
}

/** One line for logs and closing notes: "2,431 probes, 0 failed (blackout 0 ms); etcd 1,210 acked, 0 lost". */
export function loadSummary(f: LoadFigures): string {
  const n = (x: number) => x.toLocaleString("en-US");
  const unsent = f.failed.filter((x) => x.error === LATE || x.error === SKIPPED).length;
  return (
    `${n(f.probes)} probes in ${(f.durationMs / 1000).toFixed(1)} s, ${n(f.failedProbes)} failed (blackout ${f.blackoutMs} ms)` +
    (unsent ? `, of which ${n(unsent)} never sent (the probing process late or at its in-flight cap)` : "") +
    (f.etcd ? `; etcd ${n(f.etcd.acked)} acked, ${n(f.etcd.failed)} not acked, ${n(f.etcd.lost.length)} lost` : "")
  );
}
