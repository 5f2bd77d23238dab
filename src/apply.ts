/**
 * The library entry for apply/plan: load the PKI, connect, lock every host (not in a dry run),
 * run the phase list, close connections. The CLI only parses flags and prints.
 */
import type { Cluster } from "./spec/model.ts";
import { ensureState } from "./pki/index.ts";
import { ConnectionPool, type HostStats } from "./exec/pool.ts";
import { withHostLocks } from "./exec/lock.ts";
import { runPhases, type RunSummary } from "./phases/runner.ts";
import { APPLY_PHASES } from "./phases/apply.ts";
import { newApplyData } from "./phases/data.ts";
import type { Reporter } from "./report/index.ts";
import { registerSecret } from "./util/redact.ts";
import { KubehaError } from "./errors.ts";
import { versionDrift } from "./ops/upgrade.ts";
import { formerHostNotice, formerHosts, mergeManaged, readManagedHosts, writeManagedHosts } from "./pki/managed-hosts.ts";

/**
 * Hosts worked on at once in a phase (k0sctl's default too). Each host's work is a short remote
 * script; with 10 a 50-host no-op apply spent most of its 6.5 s waiting in 5 waves.
 */
export const DEFAULT_CONCURRENCY = 30;

export interface ApplyOptions {
  dryRun?: boolean;
  only?: string[];
  skip?: string[];
  trustNewHostKeys?: boolean;
  concurrency?: number;
  reporter?: Reporter;
  /** Told things the user should know that are not progress (a dry run's missing state directory). */
  notice?: (message: string) => void;
}

export interface ApplyResult extends RunSummary {
  /** SSH commands per host in this run (the no-op benchmark reads it). */
  roundTrips: HostStats[];
  /** Hosts an earlier apply managed that the file no longer has (`kubeha node remove` takes them out). */
  formerHosts: string[];
}

export async function apply(cluster: Cluster, opts: ApplyOptions = {}): Promise<ApplyResult> {
  // A dry run reads the PKI and writes nothing: missing certificates exist in memory only.
  const state = await ensureState(cluster, { readOnly: opts.dryRun ?? false });
  if (state.report.wouldCreateDir)
    opts.notice?.(`the state directory ${state.dir} does not exist; this dry run used throw-away certificates and created nothing. apply will create it with new CAs and keys.`);
  const s = state.secrets;
  registerSecret(s.join.token, s.join.certificateKey, s.haproxyStatsPassword, s.vrrpAuthPass, s.encryptionKey);
  // Hosts deleted from the file stay in the cluster until `kubeha node remove`: say so, change nothing for them.
  const recorded = await readManagedHosts(state.dir);
  const former = formerHosts(recorded, cluster);
  for (const h of former) opts.notice?.(formerHostNotice(h, cluster.sourcePath));
  const pool = new ConnectionPool({ trustNewHostKeys: opts.trustNewHostKeys ?? false });
  // The versions are `kubeha upgrade`'s to change: apply refuses, plan shows the upgrade's steps.
  const drift = await versionDrift(cluster, pool, { steps: opts.dryRun ?? false });
  if (drift) {
    const running = [...drift.running].map(([h, v]) => `${h} ${v}`).join(", ");
    if (!opts.dryRun) {
      await pool.closeAll();
      throw new KubehaError(`the control planes run Kubernetes ${running}; the cluster file asks for ${cluster.kubernetes.version}: apply does not change versions`, `run \`kubeha upgrade FILE --to ${cluster.kubernetes.version}\` (\`kubeha plan FILE\` lists its steps), or set spec.kubernetes.version back to what runs`);
    }
    opts.notice?.(`the control planes run Kubernetes ${running}; the cluster file asks for ${cluster.kubernetes.version}. \`kubeha upgrade FILE --to ${cluster.kubernetes.version}\` would:\n  ${(drift.steps ?? []).join("\n  ")}`);
  }
  const data = newApplyData(cluster, state, pool);
  const run = () =>
    runPhases({
      phases: APPLY_PHASES,
      data,
      hosts: cluster.hosts,
      dryRun: opts.dryRun ?? false,
      only: opts.only ?? [],
      skip: opts.skip ?? [],
      concurrency: opts.concurrency ?? DEFAULT_CONCURRENCY,
      ...(opts.reporter ? { reporter: opts.reporter } : {}),
    });
  try {
    const summary = opts.dryRun ? await run() : await withHostLocks(cluster.hosts, (h) => pool.get(h), run);
    if (!opts.dryRun) await writeManagedHosts(state.dir, mergeManaged(recorded, cluster));
    return { ...summary, roundTrips: await pool.stats(), formerHosts: former.map((h) => h.name) };
  } finally {
    await pool.closeAll();
  }
}
