/** What the apply phases share: the cluster, connections, facts, each host's plan, secrets. */
import type { ConnectionPool } from "../exec/pool.ts";
import type { Transport } from "../exec/transport.ts";
import type { State } from "../pki/index.ts";
import type { Facts } from "../probe/facts.ts";
import { planHost, type Step } from "../plan/host.ts";
import { planEtcdHosts, type InitialCluster } from "../plan/etcd.ts";
import { withInitControlPlane } from "../plan/init.ts";
import { apiBackends } from "../plan/backends.ts";
import { PATHS } from "../render/paths.ts";
import { pkiFilesForHost } from "../pki/index.ts";
import type { Cluster, Host } from "../spec/model.ts";
import type { PhaseContext } from "./types.ts";

export interface ApplyData {
  /**
   * The cluster file's model; once facts exist, with `initControlPlane` taken from them (see
   * src/plan/init.ts: a replaced first control plane joins, it never inits again).
   */
  readonly cluster: Cluster;
  pool: ConnectionPool;
  state: State;
  facts: Map<string, Facts>;
  /** Operator clock (seconds) when facts were gathered, for the skew check. */
  operatorTime?: number;
  /** Every secret value of this cluster, masked in all errors and output. */
  secrets: string[];
  /**
   * This run's join material work, started once: "token" (bootstrap token created), "cp" (token +
   * certificates uploaded for control-plane joins, a fresh 2 h window), "worker" (token only).
   */
  joinMaterial?: Map<"token" | "cp" | "worker", Promise<void>>;
  /**
   * The host's plan (src/plan/host.ts) for the cluster as the facts show it (HAProxy's backend:
   * the control planes joined so far, `joinedNow`); with `etcdInitial`, planned afresh for an etcd
   * member joining with those first-start settings.
   */
  plan(h: Host, etcdInitial?: InitialCluster): Step[];
  /** Paths written on each host by this run (what `onChange` steps look at). */
  changed: Map<string, Set<string>>;
}

export type Ctx = PhaseContext<ApplyData>;

export function factsOf(ctx: Ctx, h: Host): Facts {
  const f = ctx.data.facts.get(h.name);
  if (!f) throw new Error(`no facts for ${h.name}: the facts phase must run first (do not skip it)`);
  return f;
}

export async function transport(ctx: Ctx, h: Host): Promise<Transport> {
  return ctx.data.pool.get(h);
}

/** Runs a state-changing command behind the wet gate; a failure is a StepError with the stderr tail. */
export async function wetRun(ctx: Ctx, h: Host, description: string, cmd: string, opts: { timeoutMs?: number; hint?: string; stdin?: string } = {}): Promise<void> {
  const t = await transport(ctx, h);
  await ctx.wet(h, description, () => t.mustRun(cmd, { sudo: true, secrets: ctx.data.secrets, ...opts }));
}

/**
 * Whether `h` has joined the cluster as the facts stand now (a join of this run counts: its step
 * made kubelet.conf's check hold). A host without facts (unreachable in a dry run) counts as
 * joined, so a plan never drops a backend it cannot see.
 */
export function joinedNow(data: Pick<ApplyData, "facts">, h: Host): boolean {
  const f = data.facts.get(h.name);
  return !f || f.existing.has(PATHS.kubeletConf);
}

/** Whether `h` had joined when apply gathered its facts (what the lb phase's backends were made of). */
export function joinedAtStart(data: Pick<ApplyData, "facts">, h: Host): boolean {
  const f = data.facts.get(h.name);
  return !f || f.has.kubeletConf;
}

/** The data of one apply run: each host's plan is made once facts exist (etcd members depend on them). */
export function newApplyData(cluster: Cluster, state: State, pool: ConnectionPool): ApplyData {
  const s = state.secrets;
  const plans = new Map<string, Step[]>();
  let seen = -1;
  let current = cluster;
  const data: ApplyData = {
    get cluster(): Cluster {
      // Facts only arrive in the facts phase; recomputed when more hosts reported.
      if (data.facts.size !== seen) {
        seen = data.facts.size;
        current = seen ? withInitControlPlane(cluster, data.facts) : cluster;
      }
      return current;
    },
    pool,
    state,
    facts: new Map(),
    secrets: [s.join.token, s.join.certificateKey, s.haproxyStatsPassword, s.vrrpAuthPass],
    changed: new Map(),
    plan(h: Host, etcdInitial?: InitialCluster): Step[] {
      const c = data.cluster;
      const backends = apiBackends(c, (x) => joinedNow(data, x));
      const make = (initial: (x: Host) => InitialCluster | undefined) =>
        planHost(c, h, { secrets: s, pkiFiles: (name) => pkiFilesForHost(c, state, name), etcdInitial: initial, apiBackends: backends });
      if (etcdInitial) return make(() => etcdInitial);
      // Planned again once a join changed the backend.
      const key = `${h.name}\0${backends.map((x) => x.name).join(",")}`;
      let p = plans.get(key);
      if (!p) {
        const etcd = data.facts.size ? planEtcdHosts(c, data.facts).now : [];
        plans.set(key, (p = make((x) => etcd.find((m) => m.host.name === x.name)?.initial)));
      }
      return p;
    },
  };
  return data;
}
