/**
 * The apply executor of the per-host plan (src/plan/host.ts): each step kind, over SSH, behind
 * the wet gate (so `kubeha plan` records exactly what this would do). Guards are answered from the
 * facts gathered in one round trip; a step that ran makes its guard hold for the rest of the run.
 * Also the offline bundle: its manifest, and the files a cluster's bootstrap mode installs
 * (`bundleFilesFor`: a file entry's `bootstrap` field limits it to that mode; docs/bundle.md).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { factsOf, transport, wetRun, type Ctx } from "./data.ts";
import { syncFiles } from "../exec/files.ts";
import { shq } from "../util/shell.ts";
import { recordInstalledCommand } from "../render/packages.ts";
import { KubehaError, StepError } from "../errors.ts";
import { retry } from "../util/retry.ts";
import { BOOTSTRAPS, type Cluster, type Host } from "../spec/model.ts";
import type { BootBundle } from "../render/ignition.ts";
import type { RenderedFile } from "../render/types.ts";
import { isUnitFile, unitTriggers, type Check, type FilesStep, type PackagesStep, type RunStep, type Step, type StepPhase } from "../plan/host.ts";

/** True when the check holds on the host: from its facts (updated by steps that ran), or by asking. */
export async function holds(ctx: Ctx, h: Host, c: Check): Promise<boolean> {
  const f = factsOf(ctx, h);
  switch (c.kind) {
    case "command":
      return (await (await transport(ctx, h)).run(c.script, { sudo: true, secrets: ctx.data.secrets })).code === 0;
    case "exists":
      return f.existing.has(c.path);
    case "hostname":
      return f.hostname === c.name;
    case "swap-off":
      return !f.swapOn;
  }
}

function nowHolds(ctx: Ctx, h: Host, c: Check): void {
  const f = factsOf(ctx, h);
  if (c.kind === "exists") f.existing.add(c.path);
  else if (c.kind === "hostname") f.hostname = c.name;
  else if (c.kind === "swap-off") f.swapOn = false;
}

/** Paths written by this run, per host: what `onChange` steps look at. */
function changedPaths(ctx: Ctx, h: Host): Set<string> {
  let s = ctx.data.changed.get(h.name);
  if (!s) ctx.data.changed.set(h.name, (s = new Set()));
  return s;
}

/**
 * Writes the files that differ, then: daemon-reload when a unit changed, sysctls applied, owners
 * set, units whose unit file changed restarted and units whose configuration changed reloaded
 * (`unitTriggers`: a restart of haproxy would flip keepalived's track file and move the VIP, a
 * reload hands its sockets over), `ensure` units enabled and started when not active.
 * `restart` names units to restart even when nothing changed (an etcd member joining).
 */
export async function convergeFiles(ctx: Ctx, h: Host, files: readonly RenderedFile[], ensure: readonly string[] = [], restart: readonly string[] = []): Promise<RenderedFile[]> {
  const t = await transport(ctx, h);
  const { changed, units } = await syncFiles(t, files, (d, fn) => ctx.wet(h, d, fn));
  for (const f of changed) changedPaths(ctx, h).add(f.path);
  const reload = changed.some((f) => isUnitFile(f.path));
  const facts = ctx.data.facts.get(h.name);
  const sysctl = units.includes("systemd-sysctl.service");
  const triggers = unitTriggers(changed);
  const restarts = [...new Set([...triggers.filter((x) => x.unitFiles.length).map((x) => x.unit), ...restart.map((u) => (u.includes(".") ? u : `${u}.service`))])];
  const reloads = triggers.map((x) => x.unit).filter((u) => !restarts.includes(u));
  const touched = [...restarts, ...reloads];
  const inactive = ensure.filter((u) => facts?.units.get(u.replace(/\.service$/, "")) !== "active");
  const start = inactive.filter((u) => !touched.includes(u) && !touched.includes(`${u}.service`));
  const owned = changed.filter((f) => f.owner);
  const cmds: string[] = [];
  if (reload) cmds.push("systemctl daemon-reload");
  if (sysctl) cmds.push(`sysctl -e -q ${changed.filter((f) => f.path.startsWith("/etc/sysctl.d/")).map((f) => `-p ${shq(f.path)}`).join(" ")}`);
  for (const f of owned) cmds.push(`chown ${shq(f.owner!)} ${shq(f.path)}`);
  if (restarts.length) cmds.push(`systemctl restart ${restarts.map(shq).join(" ")}`);
  if (reloads.length) cmds.push(`systemctl reload-or-restart ${reloads.map(shq).join(" ")}`);
  if (ensure.length && (changed.length || start.length)) cmds.push(`systemctl enable ${ensure.map(shq).join(" ")} 2>/dev/null`);
  if (start.length) cmds.push(`systemctl start ${start.map(shq).join(" ")}`);
  const describe = [
    reload && "reload systemd",
    sysctl && "apply sysctl settings",
    owned.length && `set owners of ${owned.length} file(s)`,
    restarts.length && `restart ${restarts.join(", ")}`,
    reloads.length && `reload or restart ${reloads.join(", ")}`,
    start.length && `start ${start.join(", ")}`,
  ]
    .filter(Boolean)
    .join("; ");
  if (cmds.length) {
    await ctx.wet(h, describe || "enable units", () =>
      t.mustRun(cmds.join(" && "), { sudo: true, secrets: ctx.data.secrets, timeoutMs: 120_000, hint: `see \`journalctl -u ${[...touched, ...start][0] ?? "<unit>"} -n 50\` on ${h.name}` }),
    );
  }
  for (const u of [...touched, ...start]) facts?.units.set(u.replace(/\.service$/, ""), "active");
  return changed;
}

async function installPackages(ctx: Ctx, h: Host, s: PackagesStep): Promise<void> {
  const f = factsOf(ctx, h);
  const sourcesChanged = [...changedPaths(ctx, h)].some((p) => p.startsWith("/etc/apt/"));
  const missing = s.packages.filter((p) => !f.packages.has(p));
  if (!missing.length && !sourcesChanged) return;
  const env = "DEBIAN_FRONTEND=noninteractive";
  // apt's http method can wait forever on a half-closed proxy connection: bound every transfer,
  // retry inside apt, and bound the whole command so a re-try starts afresh. No pipelining: with
  // it, apt was seen waiting forever on a connection the proxy had closed.
  const net = "-o Acquire::http::Pipeline-Depth=0 -o Acquire::http::Timeout=30 -o Acquire::https::Timeout=30 -o Acquire::Retries=3";
  const opts = `${net} -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold`;
  const hold = s.hold.filter((p) => missing.includes(p));
  // A host that lost power while dpkg ran refuses every install until `dpkg --configure -a` ends its work.
  const cmd = [
    `${env} dpkg --configure -a`,
    `${env} timeout 120 apt-get update -q ${net}`,
    missing.length ? `${env} timeout 900 apt-get install -y -q ${opts} ${missing.map(shq).join(" ")}` : "true",
    ...(missing.length ? [recordInstalledCommand(missing.map(shq).join(" "))] : []),
    ...(hold.length ? [`apt-mark hold ${hold.join(" ")} >/dev/null`] : []),
  ].join(" && ");
  await retry(
    () => wetRun(ctx, h, `apt-get install ${missing.join(" ") || "(refresh package lists)"}`, cmd, { timeoutMs: 20 * 60_000, hint: "check the host's package sources and spec.packages.proxy" }),
    { attempts: 3, delayMs: 2000, retryIf: (e) => e instanceof StepError && e.detail.exitCode === 124 },
  );
  // Debian starts and enables daemons on install; kubeha configures them first and starts them itself.
  const quiet = s.quiet.filter((u) => missing.some((p) => (p === "etcd-server" ? "etcd" : p) === u));
  if (quiet.length) await wetRun(ctx, h, `stop ${quiet.join(", ")} until configured`, `systemctl stop ${quiet.join(" ")} || true`);
  for (const p of missing) f.packages.set(p, "installed");
  for (const u of quiet) f.units.set(u, "inactive");
}

/** One file of an offline bundle (docs/bundle.md). */
export interface BundleFile {
  src: string;
  dest: string;
  mode: string;
  /** Installed only on clusters of this `spec.bootstrap` (absent: every cluster). kubeadm's kubelet drop-in is `kubeadm`: in binary mode it would replace kubeha's ExecStart. */
  bootstrap?: Cluster["bootstrap"];
}

export interface BundleManifest {
  kubernetesVersion: string;
  description?: string;
  files: BundleFile[];
  enable?: string[];
}


/** The manifest's files a cluster of `bootstrap` mode installs; an unknown `bootstrap` value is refused, not ignored. Pure. */
export function bundleFilesFor(manifest: BundleManifest, bootstrap: Cluster["bootstrap"], where = "kubeha-bundle.json"): BundleFile[] {
  for (const f of manifest.files) {
    if (f.bootstrap !== undefined && !BOOTSTRAPS.includes(f.bootstrap))
      throw new KubehaError(`${where}: file ${f.src} has "bootstrap": ${JSON.stringify(f.bootstrap)}; it must be ${BOOTSTRAPS.map((m) => `"${m}"`).join(" or ")} (or absent: every cluster)`, "see docs/bundle.md");
  }
  return manifest.files.filter((f) => f.bootstrap === undefined || f.bootstrap === bootstrap);
}

const bundles = new Map<string, Promise<{ manifest: BundleManifest; files: Array<{ path: string; content: Buffer; mode: number }> }>>();

/** Reads an offline bundle once per process (docs/bundle.md), checks it matches the cluster, and keeps the files of the cluster's bootstrap mode. */
export function loadBundle(dir: string, version: string, bootstrap: Cluster["bootstrap"]) {
  const key = `${dir}\0${version}\0${bootstrap}`;
  let b = bundles.get(key);
  if (!b) {
    b = (async () => {
      const where = join(dir, "kubeha-bundle.json");
      let manifest: BundleManifest;
      try {
        manifest = JSON.parse(await readFile(where, "utf8")) as BundleManifest;
      } catch (err) {
        throw new KubehaError(`cannot read the offline bundle manifest ${where}: ${(err as Error).message}`, "check spec.packages.bundle (see docs/bundle.md)");
      }
      if (manifest.kubernetesVersion !== version)
        throw new KubehaError(`the bundle in ${dir} holds Kubernetes ${manifest.kubernetesVersion}, the cluster file asks for ${version}`, "ship a bundle of the same version, or change spec.kubernetes.version");
      const files = await Promise.all(bundleFilesFor(manifest, bootstrap, where).map(async (f) => ({ path: f.dest, content: await readFile(join(dir, f.src)), mode: parseInt(f.mode, 8) })));
      return { manifest, files };
    })();
    bundles.set(key, b);
    b.catch(() => bundles.delete(key));
  }
  return b;
}

/** The offline bundle's files for Ignition configs (packages.source: bundle), read as `kubeha apply` reads them. */
export async function bootBundle(c: Cluster): Promise<BootBundle | undefined> {
  if (c.packages.source !== "bundle" || !c.packages.bundle) return undefined;
  const { manifest, files } = await loadBundle(c.packages.bundle, c.kubernetes.version, c.bootstrap);
  return { ...(manifest.description ? { description: manifest.description } : {}), files, enable: manifest.enable ?? [] };
}

async function installBundle(ctx: Ctx, h: Host): Promise<void> {
  const c = ctx.data.cluster;
  const { manifest, files } = await loadBundle(c.packages.bundle!, c.kubernetes.version, c.bootstrap);
  const t = await transport(ctx, h);
  const { changed } = await syncFiles(t, files, (d, fn) => ctx.wet(h, d, fn));
  if (changed.length) ctx.note(`installed offline bundle: ${manifest.description ?? c.packages.bundle}`, h);
  const units = manifest.enable ?? [];
  if (changed.some((f) => f.path.includes("/systemd/")) || (changed.length && units.length))
    await wetRun(ctx, h, `reload systemd; enable ${units.join(", ")}`, ["systemctl daemon-reload", ...(units.length ? [`systemctl enable ${units.map(shq).join(" ")}`] : [])].join(" && "));
}

/**
 * Whether a run or wait step has work: a trigger file changed in this run, or its guard does not
 * hold, or it has neither (install.sh's `if changed ... || ! guard` is the same rule).
 */
async function due(ctx: Ctx, h: Host, onChange: readonly string[] | undefined, guard: Check | undefined): Promise<boolean> {
  if (onChange?.some((p) => changedPaths(ctx, h).has(p))) return true;
  if (guard) return !(await holds(ctx, h, guard));
  return !onChange;
}

async function runStep(ctx: Ctx, h: Host, s: RunStep, prepare?: (s: RunStep) => Promise<void>): Promise<void> {
  if (!(await due(ctx, h, s.onChange, s.unless))) return;
  if (prepare) await prepare(s);
  const t = await transport(ctx, h);
  await ctx.wet(h, s.description, async () => {
    try {
      await t.mustRun(s.script, { sudo: true, secrets: ctx.data.secrets, ...(s.timeoutMs ? { timeoutMs: s.timeoutMs } : {}), ...(s.hint ? { hint: s.hint } : {}) });
    } catch (err) {
      // The trigger files go, so the next run writes them again and retries this command.
      if (s.onChange) await t.run(`rm -f ${s.onChange.map(shq).join(" ")}`, { sudo: true }).catch(() => undefined);
      throw err;
    }
  });
  if (s.unless) nowHolds(ctx, h, s.unless);
}

export interface RunStepsOptions {
  /** Called right before a `run` step that will execute (join material for joins). */
  prepare?: (s: RunStep) => Promise<void>;
  /** Units to restart in the files steps even when nothing changed. */
  restart?: readonly string[];
}

/** Executes steps in order on one host. */
export async function runSteps(ctx: Ctx, h: Host, steps: readonly Step[], opts: RunStepsOptions = {}): Promise<void> {
  for (const s of steps) {
    switch (s.kind) {
      case "files":
        await convergeFiles(ctx, h, s.files, s.ensure, opts.restart);
        break;
      case "packages":
        await installPackages(ctx, h, s);
        break;
      case "bundle":
        await installBundle(ctx, h);
        break;
      case "run":
        await runStep(ctx, h, s, opts.prepare);
        break;
      case "wait": {
        if (ctx.dryRun) break;
        if (!(await due(ctx, h, s.onChange, s.before))) break;
        ctx.note(s.description, h);
        await (await transport(ctx, h)).mustRun(s.script, { sudo: true, timeoutMs: s.timeoutMs, hint: s.hint, secrets: ctx.data.secrets });
        break;
      }
    }
  }
}

/** The steps of `h`'s plan that belong to `phase`. */
export function stepsOf(ctx: Ctx, h: Host, phase: StepPhase): Step[] {
  return ctx.data.plan(h).filter((s) => s.phase === phase);
}

/** The files step of a phase (etcd's orchestration re-plans it with other first-start settings). */
export function filesStep(steps: readonly Step[]): FilesStep | undefined {
  return steps.find((s): s is FilesStep => s.kind === "files");
}
