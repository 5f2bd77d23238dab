/**
 * `bootstrap: binary`: a component's command line as data, and the systemd unit that runs it.
 * Pure. The flags stay data so the tests check every rendered name against the recorded flag
 * tables (src/spec/flag-tables.ts) for each supported minor, and so the plan can tell which unit
 * reads which certificate or kubeconfig.
 */
import type { Component } from "../../spec/flag-tables.ts";
import { PATHS } from "../paths.ts";
import { header } from "../file.ts";

export type Flags = Array<[name: string, value: string]>;

/** One component on one host: its flags, and the config objects it reads (`--config`, policies). */
export interface CommandLine {
  component: Component;
  flags: Flags;
  /** The objects of the files the component reads beyond its flags (scanned for paths it reads). */
  configs: unknown[];
}

/**
 * kubeha's flags with the user's `extraArgs` over them: a user value replaces kubeha's value of
 * the same flag in place (kubeadm's `extraArgs` rule), a new flag comes after. The flags kubeha
 * must own are refused before this (the `extra-args` rule, src/spec/flags.ts OWNED).
 */
export function withExtraArgs(base: Flags, extra: readonly [string, string][]): Flags {
  const user = new Map(extra);
  const out: Flags = base.map(([n, v]) => [n, user.get(n) ?? v]);
  for (const [n, v] of extra) if (!base.some(([b]) => b === n)) out.push([n, v]);
  return out;
}

/** The path of a component's unit file. */
export function unitPath(component: Component): string {
  return `${PATHS.systemdUnitDir}/${component}.service`;
}

/** The binary a component's unit runs (the bundle installs it there). */
export function binaryPath(component: Component): string {
  return `${PATHS.kubeBinDir}/${component}`;
}

/**
 * One argument of an ExecStart line. systemd expands `%` specifiers and `$VAR`, so both are
 * doubled; a value with a space, quote or backslash is double-quoted with C-style escapes.
 */
export function systemdArg(s: string): string {
  const e = s.replace(/%/g, "%%").replace(/\$/g, "$$$$");
  return /[\s"'\\;]/.test(e) ? `"${e.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"` : e;
}

export interface UnitOptions {
  description: string;
  /** Units started before this one (ordering only, with Wants= for the ones in `wants`). */
  after: string[];
  wants: string[];
}

/** The unit file: one flag per line, restarted by systemd whenever it exits. */
export function renderUnit(cmd: CommandLine, o: UnitOptions): string {
  const exec = [binaryPath(cmd.component), ...cmd.flags.map(([n, v]) => systemdArg(`--${n}=${v}`))].join(" \\\n    ");
  return [
    header("#", `${cmd.component} (bootstrap: binary).`).trimEnd(),
    "[Unit]",
    `Description=${o.description}`,
    `Documentation=https://kubernetes.io/docs/reference/command-line-tools-reference/${cmd.component}/`,
    ...(o.wants.length ? [`Wants=${o.wants.join(" ")}`] : []),
    `After=${o.after.join(" ")}`,
    "",
    "[Service]",
    `ExecStart=${exec}`,
    "Restart=always",
    "RestartSec=5",
    "LimitNOFILE=65536",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

/**
 * The files under /etc/kubernetes a component reads: its flag values and every string in its
 * config objects that is such a path. The plan restarts the component when one of them changes.
 */
export function readPaths(cmd: CommandLine): string[] {
  const out = new Set<string>();
  const prefix = PATHS.kubernetesDir + "/";
  const walk = (v: unknown): void => {
    if (typeof v === "string") {
      for (const part of v.split(",")) if (part.startsWith(prefix)) out.add(part);
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") Object.values(v).forEach(walk);
  };
  cmd.flags.forEach(([, v]) => walk(v));
  cmd.configs.forEach(walk);
  return [...out].sort();
}
