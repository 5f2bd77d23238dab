/**
 * `kubeha reset`: runs each host's reset actions (src/plan/reset.ts) in one round trip per host, or
 * with `dryRun` only their read-only tests, and reports per host what was (or would be) done.
 * Workers go first, then the other hosts. Unreachable hosts are reported, not thrown.
 */
import { rm } from "node:fs/promises";
import type { Cluster, Host } from "../spec/model.ts";
import { ConnectionPool, forEachHost } from "../exec/pool.ts";
import { ensureState, pkiFilesForHost } from "../pki/index.ts";
import { planHost } from "../plan/host.ts";
import { planReset, resetScript, RESET_MARK, type ResetAction } from "../plan/reset.ts";
import { loadBundle } from "../phases/steps.ts";
import { isControlPlane, isKubernetesNode, runsEtcd, runsHaproxy, runsKeepalived } from "../spec/topology.ts";

export interface ResetOptions {
  /** The hosts to reset (default: every host of the cluster). */
  hosts?: readonly Host[];
  purgePackages?: boolean;
  dryRun?: boolean;
  /** Also delete the local state directory (only with every host). */
  forget?: boolean;
  /** Replaces SSH (tests). */
  pool?: ConnectionPool;
  /** Called as each host finishes. */
  onHost?: (r: ResetHostReport) => void;
}

export interface ResetHostReport {
  host: string;
  /** The actions that had work: done (or, in a dry run, pending); `failed` stopped the host's reset. */
  actions: Array<{ description: string; status: "pending" | "done" | "failed" }>;
  /** Nothing was left to undo (a second reset). */
  clean: boolean;
  /** Why the host could not be reset or checked. */
  error?: string;
  /** True when the host could not be reached. */
  unreachable?: boolean;
}

export interface ResetReport {
  dryRun: boolean;
  hosts: ResetHostReport[];
  /** The local state directory, and whether it was deleted (--forget). */
  stateDir: string;
  stateDirDeleted: boolean;
}

/**
 * Hosts the remaining ones still need: a partial reset of these takes a part of the cluster away
 * (a control plane, an etcd member, a load balancer). One line per host; empty for a whole-cluster reset.
 */
export function resetWarnings(c: Cluster, selected: readonly Host[]): string[] {
  const names = new Set(selected.map((h) => h.name));
  const staying = c.hosts.filter((h) => !names.has(h.name));
  if (!staying.length) return [];
  const out: string[] = [];
  for (const h of selected) {
    const roles = [
      isControlPlane(h) && "a control plane",
      runsEtcd(c, h) && "an etcd member",
      (runsHaproxy(c, h) || runsKeepalived(c, h)) && "a load balancer (HAProxy backends and keepalived peers of the others name it)",
    ].filter(Boolean);
    if (roles.length)
      out.push(`${h.name} is ${roles.join(", ")} that the ${staying.length} remaining host(s) still use: resetting it does not take it out of the cluster (etcd membership, Node object, load balancer lists stay)`);
  }
  return out;
}

/** The reset actions of each host, from the hosts' plans. */
export async function planResets(c: Cluster, hosts: readonly Host[], purgePackages: boolean): Promise<Map<string, ResetAction[]>> {
  const state = await ensureState(c, { readOnly: true });
  const bundleFiles = purgePackages && c.packages.source === "bundle" && c.packages.bundle ? (await loadBundle(c.packages.bundle, c.kubernetes.version, c.bootstrap)).files.map((f) => f.path) : [];
  const out = new Map<string, ResetAction[]>();
  for (const h of hosts) {
    const steps = planHost(c, h, { secrets: state.secrets, pkiFiles: (name) => pkiFilesForHost(c, state, name) });
    out.set(h.name, planReset(c, h, steps, { purgePackages, bundleFiles }));
  }
  return out;
}

function oneLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0]!.trim();
}

async function resetHost(pool: ConnectionPool, h: Host, actions: readonly ResetAction[], dryRun: boolean): Promise<ResetHostReport> {
  let t;
  try {
    t = await pool.get(h);
  } catch (err) {
    return { host: h.name, actions: [], clean: false, error: oneLine(err), unreachable: true };
  }
  const r = await t.run(resetScript(actions, dryRun), { sudo: true, timeoutMs: 20 * 60_000 });
  const status = new Map<number, ResetHostReport["actions"][number]["status"]>();
  for (const line of r.stdout.split("\n")) {
    const [mark, n] = line.trim().split(" ");
    const i = Number(n);
    if (mark === RESET_MARK.pending) status.set(i, "pending");
    else if (mark === RESET_MARK.done) status.set(i, "done");
    else if (mark === RESET_MARK.failed) status.set(i, "failed");
  }
  const done = [...status.entries()].sort((a, b) => a[0] - b[0]).map(([i, s]) => ({ description: actions[i]!.description, status: s }));
  const failed = done.find((a) => a.status === "failed");
  const error =
    r.code !== 0
      ? `${failed ? `"${failed.description}" failed` : `the reset script exited ${r.code}`}: ${r.stderr.trim().split("\n").slice(-3).join(" | ")}`
      : undefined;
  return { host: h.name, actions: done, clean: done.length === 0 && r.code === 0, ...(error ? { error } : {}) };
}

export async function reset(c: Cluster, opts: ResetOptions = {}): Promise<ResetReport> {
  const hosts = opts.hosts ?? c.hosts;
  const dryRun = opts.dryRun ?? false;
  const plans = await planResets(c, hosts, opts.purgePackages ?? false);
  const pool = opts.pool ?? new ConnectionPool({ connectAttempts: 1, connectTimeoutMs: 5000 });
  const reports = new Map<string, ResetHostReport>();
  try {
    // Workers first: they leave while the control plane still answers.
    const phases = [hosts.filter((h) => isKubernetesNode(h) && !isControlPlane(h)), hosts.filter((h) => !(isKubernetesNode(h) && !isControlPlane(h)))];
    for (const group of phases)
      await forEachHost(group, 10, async (h) => {
        const r = await resetHost(pool, h, plans.get(h.name)!, dryRun);
        reports.set(h.name, r);
        opts.onHost?.(r);
      });
  } finally {
    if (!opts.pool) await pool.closeAll();
  }
  const all = hosts.map((h) => reports.get(h.name)!);
  let stateDirDeleted = false;
  if (opts.forget && !dryRun && all.every((r) => !r.error)) {
    await rm(c.pki.stateDir, { recursive: true, force: true });
    stateDirDeleted = true;
  }
  return { dryRun, hosts: all, stateDir: c.pki.stateDir, stateDirDeleted };
}
