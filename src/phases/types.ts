/**
 * What a phase is: plain data with a title, an id that is its path in the tree (`lb/keepalived`)
 * and optional hooks the runner discovers (k0sctl's manager, kubeadm's phase tree).
 */
import type { Host } from "../spec/model.ts";

/** Returned by `runHost` to say "nothing to do here" (shown as skipped for that host). */
export interface Skip {
  skip: string;
}

/** Marks a host as skipped with the reason shown to the user. */
export function skip(reason: string): Skip {
  return { skip: reason };
}

/** What every hook receives. One context per phase; `D` is the run's shared data. */
export interface PhaseContext<D> {
  /** Id of the phase this context belongs to. */
  readonly phase: string;
  readonly dryRun: boolean;
  /** Shared by all phases of the run (cluster, connection pool, facts gathered so far...). */
  readonly data: D;
  /**
   * The one gate for every state-changing action. Dry run: records `description` for `host` and
   * does not call `fn`. Real run: reports the change and calls `fn`. Descriptions are imperative
   * and lower-case ("write /etc/haproxy/haproxy.cfg", "restart haproxy"); `host` may be "local".
   */
  wet(host: Host | string, description: string, fn: () => Promise<unknown>): Promise<void>;
  /** Progress text that changes nothing. */
  note(message: string, host?: Host | string): void;
}

export interface Phase<D> {
  /** Path in the tree: a child's id is its parent's id plus `/segment` (`[a-z0-9-]` segments). */
  id: string;
  /** Verb-object: "Configure keepalived". */
  title: string;
  /** Called right before the phase is considered (after earlier phases ran); errors stop the run. */
  prepare?(ctx: PhaseContext<D>): void | Promise<void>;
  /** False skips the phase and its children. */
  shouldRun?(ctx: PhaseContext<D>): boolean | Promise<boolean>;
  /** Hosts `runHost` runs on (default: every host given to the runner). */
  hosts?(ctx: PhaseContext<D>): readonly Host[];
  /** The phase's own work, once. Runs before `runHost` and before the children. */
  run?(ctx: PhaseContext<D>): Promise<void>;
  /** Per-host work, in parallel (bounded); failures of all hosts are gathered into one error. */
  runHost?(ctx: PhaseContext<D>, host: Host): Promise<void | Skip>;
  /** Replaces `run` and `runHost` in a dry run, for phases whose reads need special care. */
  dryRun?(ctx: PhaseContext<D>): Promise<void>;
  /** Undoes partial work when the run fails; called for every phase that started, last first. */
  cleanup?(ctx: PhaseContext<D>): void | Promise<void>;
  /** Sub-phases, run in order after this phase's own work. */
  children?: readonly Phase<D>[];
}
