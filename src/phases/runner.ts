/**
 * The phase runner: walks the phase tree depth first, honours --only / --skip-phases on whole
 * subtrees, runs per-host work in bounded parallel, gates every change through `ctx.wet` (so a dry
 * run is exact by construction), reports events, and runs cleanup hooks when something fails.
 */
import { InternalError, StepError, UsageError } from "../errors.ts";
import { forEachHost, HostsError } from "../exec/pool.ts";
import { errorInfo, Reporter, type PhaseInfo } from "../report/events.ts";
import type { Change } from "../report/summary.ts";
import type { Host } from "../spec/model.ts";
import type { Phase, PhaseContext } from "./types.ts";

export type { Phase, PhaseContext, Skip } from "./types.ts";
export { skip } from "./types.ts";

export interface RunnerOptions<D> {
  phases: readonly Phase<D>[];
  data: D;
  /** Every host of the cluster, in file order: the default for `runHost` and the report order. */
  hosts: readonly Host[];
  dryRun?: boolean;
  /** Run only these phases (and their subtrees). */
  only?: readonly string[];
  /** Skip these phases (and their subtrees). */
  skip?: readonly string[];
  /** Hosts worked on at once within a phase. Default 10. */
  concurrency?: number;
  reporter?: Reporter;
}

export interface RunSummary {
  dryRun: boolean;
  /** Changes made (or, in a dry run, that would be made), in order. */
  changes: Change[];
  /** Ids of phases whose work ran, in order. */
  ran: string[];
  durationMs: number;
}

interface Node<D> {
  phase: Phase<D>;
  depth: number;
  parent?: Node<D>;
  children: Node<D>[];
}

const SEGMENT = /^[a-z0-9][a-z0-9-]*$/;

function buildTree<D>(phases: readonly Phase<D>[], parent: Node<D> | undefined, seen: Set<string>): Node<D>[] {
  return phases.map((phase) => {
    const prefix = parent ? parent.phase.id + "/" : "";
    const seg = phase.id.slice(prefix.length);
    if (!phase.id.startsWith(prefix) || !SEGMENT.test(seg)) {
      throw new InternalError(`phase id "${phase.id}" must be ${prefix ? `"${prefix}<segment>"` : "a segment"} of [a-z0-9-]`);
    }
    if (seen.has(phase.id)) throw new InternalError(`duplicate phase id "${phase.id}"`);
    seen.add(phase.id);
    const node: Node<D> = { phase, depth: parent ? parent.depth + 1 : 0, children: [], ...(parent ? { parent } : {}) };
    node.children = buildTree(phase.children ?? [], node, seen);
    return node;
  });
}

function flatten<D>(nodes: Node<D>[]): Node<D>[] {
  return nodes.flatMap((n) => [n, ...flatten(n.children)]);
}

/** Every phase id of a tree, depth first: what `--only` and `--skip-phases` accept. */
export function phaseIds<D>(phases: readonly Phase<D>[]): string[] {
  return flatten(buildTree(phases, undefined, new Set())).map((n) => n.phase.id);
}

/** Indented `id  title` lines for `--help`. */
export function phaseHelp<D>(phases: readonly Phase<D>[]): string {
  const nodes = flatten(buildTree(phases, undefined, new Set()));
  const w = Math.max(0, ...nodes.map((n) => n.depth * 2 + n.phase.id.length));
  return nodes.map((n) => `${"  ".repeat(n.depth)}${n.phase.id.padEnd(w - n.depth * 2)}  ${n.phase.title}`).join("\n");
}

type Selection = "run" | "container" | { skip: string };

/**
 * What happens to each phase: "run"; "container" (an ancestor of an --only phase: entered for its
 * children, its own hooks do not run); or skipped with a reason. Unknown ids are a UsageError.
 */
export function selectPhases<D>(phases: readonly Phase<D>[], only: readonly string[] = [], skipIds: readonly string[] = []): Map<string, Selection> {
  const nodes = flatten(buildTree(phases, undefined, new Set()));
  const ids = nodes.map((n) => n.phase.id);
  for (const [flag, list] of [["--only", only], ["--skip-phases", skipIds]] as const) {
    const unknown = list.filter((id) => !ids.includes(id));
    if (unknown.length) {
      throw new UsageError(`${flag}: unknown phase${unknown.length > 1 ? "s" : ""} ${unknown.map((u) => `"${u}"`).join(", ")}`, `valid phases: ${ids.join(", ")}`);
    }
  }
  const within = (id: string, roots: readonly string[]) => roots.some((r) => id === r || id.startsWith(r + "/"));
  const out = new Map<string, Selection>();
  for (const id of ids) {
    if (within(id, skipIds)) out.set(id, { skip: "--skip-phases" });
    else if (only.length === 0 || within(id, only)) out.set(id, "run");
    else if (only.some((o) => o.startsWith(id + "/"))) out.set(id, "container");
    else out.set(id, { skip: "not selected by --only" });
  }
  return out;
}

function hostName(h: Host | string): string {
  return typeof h === "string" ? h : h.name;
}

/** Attaches the phase id to step errors that do not name one yet, so the user sees where it failed. */
function tagPhase(err: unknown, phase: string): void {
  if (err instanceof StepError && !err.detail.phase) err.detail.phase = phase;
  if (err instanceof HostsError) for (const f of err.failures) tagPhase(f.error, phase);
}

/** Runs a phase tree. See `RunnerOptions`; `run()` resolves with what changed, or throws the failure. */
export class Runner<D> {
  readonly reporter: Reporter;
  #tree: Node<D>[];
  #selection: Map<string, Selection>;
  #changes: Change[] = [];
  #ran: string[] = [];
  #started: Node<D>[] = [];

  constructor(private readonly opts: RunnerOptions<D>) {
    this.reporter = opts.reporter ?? new Reporter();
    this.#tree = buildTree(opts.phases, undefined, new Set());
    this.#selection = selectPhases(opts.phases, opts.only, opts.skip);
  }

  get dryRun(): boolean {
    return this.opts.dryRun ?? false;
  }

  #context(id: string): PhaseContext<D> {
    return {
      phase: id,
      dryRun: this.dryRun,
      data: this.opts.data,
      wet: async (host, description, fn) => {
        const name = hostName(host);
        this.reporter.emit({ type: "change", phase: id, host: name, message: description, dryRun: this.dryRun });
        if (this.dryRun) {
          this.#changes.push({ host: name, phase: id, message: description });
          return;
        }
        await fn();
        this.#changes.push({ host: name, phase: id, message: description });
      },
      note: (message, host) => {
        this.reporter.emit({ type: "note", phase: id, ...(host !== undefined ? { host: hostName(host) } : {}), message });
      },
    };
  }

  async run(): Promise<RunSummary> {
    const t0 = performance.now();
    const phases: PhaseInfo[] = flatten(this.#tree).map((n) => ({ id: n.phase.id, title: n.phase.title, depth: n.depth }));
    this.reporter.emit({ type: "run-start", dryRun: this.dryRun, phases, hosts: this.opts.hosts.map((h) => h.name) });
    try {
      for (const n of this.#tree) await this.#visit(n);
    } catch (err) {
      await this.#cleanup();
      this.reporter.emit({ type: "run-done", ok: false, dryRun: this.dryRun, durationMs: Math.round(performance.now() - t0), changes: this.#changes.length, error: errorInfo(err) });
      throw err;
    }
    const durationMs = Math.round(performance.now() - t0);
    this.reporter.emit({ type: "run-done", ok: true, dryRun: this.dryRun, durationMs, changes: this.#changes.length });
    return { dryRun: this.dryRun, changes: [...this.#changes], ran: [...this.#ran], durationMs };
  }

  #skipTree(n: Node<D>, reason: string): void {
    this.reporter.emit({ type: "phase-skip", phase: n.phase.id, title: n.phase.title, reason });
    for (const c of n.children) this.#skipTree(c, reason);
  }

  async #visit(n: Node<D>): Promise<void> {
    const p = n.phase;
    const sel = this.#selection.get(p.id)!;
    if (typeof sel === "object") {
      // Skip events for the whole subtree, unless a child is selected by --only.
      this.reporter.emit({ type: "phase-skip", phase: p.id, title: p.title, reason: sel.skip });
      for (const c of n.children) await this.#visit(c);
      return;
    }
    const ctx = this.#context(p.id);
    const t0 = performance.now();
    const ms = () => Math.round(performance.now() - t0);
    if (sel === "container") {
      this.reporter.emit({ type: "phase-start", phase: p.id, title: p.title });
      for (const c of n.children) await this.#visit(c);
      this.reporter.emit({ type: "phase-done", phase: p.id, title: p.title, durationMs: ms() });
      return;
    }
    try {
      if (p.prepare) await p.prepare(ctx);
      if (p.shouldRun && !(await p.shouldRun(ctx))) {
        this.#skipTree(n, "nothing to do");
        return;
      }
      this.#started.push(n);
      this.reporter.emit({ type: "phase-start", phase: p.id, title: p.title });
      this.#ran.push(p.id);
      if (this.dryRun && p.dryRun) await p.dryRun(ctx);
      else {
        if (p.run) await p.run(ctx);
        if (p.runHost) await this.#runHosts(n, ctx);
      }
      for (const c of n.children) await this.#visit(c);
    } catch (err) {
      tagPhase(err, p.id);
      // A failed child fails its parent too: each level reports its own failure.
      this.reporter.emit({ type: "phase-fail", phase: p.id, title: p.title, durationMs: ms(), error: errorInfo(err) });
      throw err;
    }
    this.reporter.emit({ type: "phase-done", phase: p.id, title: p.title, durationMs: ms() });
  }

  async #runHosts(n: Node<D>, ctx: PhaseContext<D>): Promise<void> {
    const p = n.phase;
    const hosts = p.hosts ? p.hosts(ctx) : this.opts.hosts;
    await forEachHost(hosts, this.opts.concurrency ?? 10, async (h) => {
      const t0 = performance.now();
      this.reporter.emit({ type: "phase-start", phase: p.id, title: p.title, host: h.name });
      try {
        const r = await p.runHost!(ctx, h);
        if (r && typeof r === "object" && "skip" in r) this.reporter.emit({ type: "phase-skip", phase: p.id, title: p.title, host: h.name, reason: r.skip });
        else this.reporter.emit({ type: "phase-done", phase: p.id, title: p.title, host: h.name, durationMs: Math.round(performance.now() - t0) });
      } catch (err) {
        if (err instanceof StepError && !err.detail.host) err.detail.host = h.name;
        tagPhase(err, p.id);
        this.reporter.emit({ type: "phase-fail", phase: p.id, title: p.title, host: h.name, durationMs: Math.round(performance.now() - t0), error: errorInfo(err) });
        throw err;
      }
    });
  }

  async #cleanup(): Promise<void> {
    for (const n of [...this.#started].reverse()) {
      if (!n.phase.cleanup) continue;
      try {
        await n.phase.cleanup(this.#context(n.phase.id));
        this.reporter.emit({ type: "cleanup", phase: n.phase.id });
      } catch (err) {
        this.reporter.emit({ type: "cleanup", phase: n.phase.id, error: errorInfo(err) });
      }
    }
  }
}

/** Convenience: builds a Runner and runs it. */
export function runPhases<D>(opts: RunnerOptions<D>): Promise<RunSummary> {
  return new Runner(opts).run();
}
