/**
 * What the apply phases share, and the one helper every config-writing phase uses: write the
 * files that differ (through the wet gate), reload systemd when a unit changed, restart the units
 * whose configuration changed, and make sure the service is enabled and running.
 */
import type { ConnectionPool } from "../exec/pool.ts";
import { syncFiles } from "../exec/files.ts";
import type { Transport } from "../exec/transport.ts";
import { shq } from "../exec/transport.ts";
import type { State } from "../pki/index.ts";
import type { Facts } from "../probe/facts.ts";
import type { RenderedFile } from "../render/types.ts";
import type { Cluster, Host } from "../spec/model.ts";
import type { PhaseContext } from "./types.ts";

export interface ApplyData {
  cluster: Cluster;
  pool: ConnectionPool;
  state: State;
  facts: Map<string, Facts>;
  /** Operator clock (seconds) when facts were gathered, for the skew check. */
  operatorTime?: number;
  /** Every secret value of this cluster, masked in all errors and output. */
  secrets: string[];
  /** Set once this run has created the bootstrap token and uploaded the certificates (2 h window). */
  joinMaterialReady?: boolean;
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
 * Converges files + units on one host. Returns true when anything changed. Units named in the
 * changed files' `restarts` are restarted (systemd units and drop-ins trigger daemon-reload first);
 * `ensure` units are enabled and started when not active.
 */
export async function converge(ctx: Ctx, h: Host, files: RenderedFile[], ensure: string[] = []): Promise<boolean> {
  const t = await transport(ctx, h);
  const gate = (d: string, fn: () => Promise<void>) => ctx.wet(h, d, fn);
  const { changed, units } = await syncFiles(t, files, gate);
  const reload = changed.some((f) => f.path.startsWith("/etc/systemd/") || f.path.startsWith("/lib/systemd/"));
  const facts = ctx.data.facts.get(h.name);
  const inactive = ensure.filter((u) => facts?.units.get(u.replace(/\.service$/, "")) !== "active");
  const restart = units.filter((u) => u !== "systemd-sysctl.service");
  const cmds: string[] = [];
  if (reload) cmds.push("systemctl daemon-reload");
  if (units.includes("systemd-sysctl.service")) cmds.push(`sysctl -e -q ${files.filter((f) => f.path.startsWith("/etc/sysctl.d/")).map((f) => `-p ${shq(f.path)}`).join(" ")}`);
  const owned = changed.filter((f) => f.owner);
  for (const f of owned) cmds.push(`chown ${shq(f.owner!)} ${shq(f.path)}`);
  // reload-or-restart: a restart of haproxy flips keepalived's track file and moves the VIP.
  if (restart.length) cmds.push(`systemctl reload-or-restart ${restart.map(shq).join(" ")}`);
  const start = inactive.filter((u) => !restart.includes(u) && !restart.includes(`${u}.service`));
  if (ensure.length) cmds.push(`systemctl enable ${ensure.map(shq).join(" ")} 2>/dev/null`);
  if (start.length) cmds.push(`systemctl start ${start.map(shq).join(" ")}`);
  const describe = [reload && "reload systemd", units.includes("systemd-sysctl.service") && "apply sysctl settings", owned.length && `set owners of ${owned.length} file(s)`, restart.length && `reload or restart ${restart.join(", ")}`, start.length && `start ${start.join(", ")}`].filter(Boolean).join("; ");
  if (describe || (changed.length && cmds.length)) {
    await ctx.wet(h, describe || "apply changed settings", () =>
      t.mustRun(cmds.join(" && "), { sudo: true, secrets: ctx.data.secrets, hint: `see \`journalctl -u ${[...restart, ...start][0] ?? "<unit>"} -n 50\` on ${h.name}` }),
    );
  }
  return changed.length > 0 || start.length > 0;
}
