/**
 * The library entry for `kubeha status`: run the read-only status script on every host (one
 * round trip each, in parallel), read the local certificate state, and evaluate. Nothing is
 * changed anywhere; an unreachable host becomes a problem in the report, never an exception.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Cluster } from "./spec/model.ts";
import { ConnectionPool, forEachHost } from "./exec/pool.ts";
import { inspectState } from "./pki/index.ts";
import { KubehaError } from "./errors.ts";
import { evaluate, statusScript, type Observations, type StatusReport } from "./probe/status.ts";

export interface StatusOptions {
  /** Hosts probed at once. Default 30. */
  concurrency?: number;
  /** Per-host SSH connect timeout in ms. Default 5000 (a dead host must not stall the report). */
  connectTimeoutMs?: number;
  /** Days before expiry that make a host certificate a warning. Default 30. */
  thresholdDays?: number;
  /** Replaces SSH (tests). */
  pool?: ConnectionPool;
  /**
   * The state directory's certificates (`stateCertificates`), when the caller read them already.
   * Parsing every certificate blocks the event loop for ~100 ms, which a drill's probes share: the
   * drill reads them once and passes them to every status poll.
   */
  certificates?: Observations["certificates"];
}

/** The state directory's certificates as `evaluate` compares the hosts' with, or why they could not be read. */
export async function stateCertificates(cluster: Cluster, thresholdDays = 30): Promise<Observations["certificates"]> {
  return inspectState(cluster, { thresholdDays }).then(
    (s) => s.rows,
    (err: unknown) => ({ error: oneLine(err) + (err instanceof KubehaError && err.hint ? ` (${err.hint})` : "") }),
  );
}

/** Everything `evaluate` needs, gathered from the hosts and the local state directory. */
export async function observe(cluster: Cluster, opts: StatusOptions = {}): Promise<Observations> {
  const pool = opts.pool ?? new ConnectionPool({ connectAttempts: 1, connectTimeoutMs: opts.connectTimeoutMs ?? 5000, keepaliveIntervalMs: 2000 });
  const hosts: Observations["hosts"] = {};
  const now = Date.now();
  try {
    const [, certificates] = await Promise.all([
      forEachHost(cluster.hosts, opts.concurrency ?? 30, async (h) => {
        try {
          const t = await pool.get(h);
          // etcdctl waits up to ~4 s per dead member, three times: leave room for that.
          const r = await t.run(statusScript(cluster, h), { sudo: true, timeoutMs: 30_000 });
          hosts[h.name] = r.code === 0 || r.stdout.includes("@@end") ? { output: r.stdout } : { error: `status script exited ${r.code}: ${r.stderr.trim().split("\n").slice(-1)[0] ?? ""}` };
        } catch (err) {
          hosts[h.name] = { error: oneLine(err) };
        }
      }),
      opts.certificates ?? stateCertificates(cluster, opts.thresholdDays ?? 30),
    ]);
    const bundleDescription = await bundleDescriptionOf(cluster);
    return { hosts, certificates, now, thresholdDays: opts.thresholdDays ?? 30, ...(bundleDescription ? { bundleDescription } : {}) };
  } finally {
    if (!opts.pool) await pool.closeAll();
  }
}

/** The bundle's own description (it says so when its binaries are stand-ins); undefined if unreadable. */
async function bundleDescriptionOf(c: Cluster): Promise<string | undefined> {
  if (c.packages.source !== "bundle" || !c.packages.bundle) return undefined;
  try {
    const m = JSON.parse(await readFile(join(c.packages.bundle, "kubeha-bundle.json"), "utf8")) as { description?: unknown };
    return typeof m.description === "string" ? m.description : undefined;
  } catch {
    return undefined;
  }
}

function oneLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0]!.trim();
}

/** Observes and evaluates: the cluster's health right now. */
export async function status(cluster: Cluster, opts: StatusOptions = {}): Promise<StatusReport> {
  return evaluate(cluster, await observe(cluster, opts));
}
