import type { Command } from "./main.ts";
import { parseFlags } from "./flags.ts";
import { OUTPUT_FLAG } from "./output.ts";
import { UsageError } from "../errors.ts";
import { DEFAULT_DRAIN_TIMEOUT_SECONDS, removeNodes, type RemoveResult } from "../ops/node-remove.ts";
import { Reporter, attachRenderer, formatChanges } from "../report/index.ts";

const HELP = `Usage: kubeha node remove FILE NAME... [flags]

Takes hosts out of the running cluster (a host that is already gone too): cordon and drain
(kubectl drain through a control plane that stays, bounded by --drain-timeout), keepalived and
HAProxy stopped on a removed LB host, the remaining LB hosts' HAProxy backends and keepalived
peers converged without it (reload; the VIP is verified), its etcd member removed through the
members that stay (stacked and external etcd), \`kubeadm reset -f\` on the host when it answers,
the Node object deleted, and its certificates and managed-hosts entry removed from kubeha's
state directory. Then it prints the lines of FILE to delete, or deletes them with --write
(comments and layout kept). NAME may be a host already deleted from FILE that kubeha applied
before (\`kubeha plan\` lists those).

Refused before anything is touched when the cluster would lose etcd quorum (removing 2 of 3
members), its last control plane or its last LB host; the message names the numbers.

Exit code: 0 removed (or, with --dry-run, what would be done was printed); 1 a step failed;
2 bad usage or refused by the quorum guard (the command line asks for something kubeha will not
do as given: nothing was changed anywhere; --force overrides); 3 invalid cluster file;
4 the cluster file could not be read.

Flags:
  --dry-run               print every step per host, change nothing
  --force                 remove even when the guard refuses, and go on past a failed drain
                          (a warning says what is lost)
  --drain-timeout D       bound for kubectl drain: 90s, 2m, 1h (default ${DEFAULT_DRAIN_TIMEOUT_SECONDS / 60}m)
  --write                 delete the hosts' entries from FILE when done (comments kept)
  -o, --output MODE       plain (default: progress on stderr, summary on stdout) or json (the
                          result as one JSON document on stdout, progress still on stderr)
  --trust-new-host-keys   pin host keys missing from known_hosts

Examples:
  kubeha node remove cluster.yaml worker2 --dry-run
  kubeha node remove cluster.yaml worker2 --write
  kubeha node remove cluster.yaml master4 --drain-timeout 5m -o json | jq .changes`;

/** `90s`, `2m`, `1h` or plain seconds -> seconds. */
export function parseDuration(flag: string, v: string): number {
  const m = /^(\d+)(s|m|h)?$/.exec(v.trim());
  const n = m ? Number(m[1]) * ({ s: 1, m: 60, h: 3600 }[(m[2] ?? "s") as "s" | "m" | "h"]) : NaN;
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${flag} must be a duration such as 90s, 2m or 1h, got "${v}"`, `e.g. --${flag} 2m`);
  return n;
}

function summary(r: RemoveResult, hostOrder: string[]): string {
  const lines = [formatChanges(r.changes, hostOrder, r.dryRun)];
  if (r.dryRun) lines.push("", "steps:", ...r.actions.map((a) => `  ${a}`));
  if (r.file.written) lines.push("", `${r.file.path}: deleted the entries of ${r.file.entries.map((e) => e.name).join(", ")}`);
  else if (r.file.entries.length)
    lines.push(
      "",
      `${r.dryRun ? "then delete" : "now delete"} these lines from ${r.file.path} (or run again with --write), else the next apply adds the host${r.file.entries.length > 1 ? "s" : ""} again:`,
      ...r.file.entries.map((e) => `  ${e.name}: lines ${e.from}-${e.to}`),
    );
  return lines.join("\n");
}

async function remove(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags("node remove", args, {
    "dry-run": { type: "boolean" },
    force: { type: "boolean" },
    "drain-timeout": { type: "string" },
    write: { type: "boolean" },
    ...OUTPUT_FLAG,
    "trust-new-host-keys": { type: "boolean" },
  });
  const [file, ...names] = positionals;
  if (!file || names.length === 0) throw new UsageError("node remove takes a cluster file and one or more host names", "kubeha node remove cluster.yaml worker2");
  const output = values.output ?? "plain";
  if (output !== "plain" && output !== "json") throw new UsageError(`node remove: -o/--output must be plain or json, got "${output}"`, "e.g. kubeha node remove cluster.yaml worker2 -o json");
  const reporter = new Reporter();
  const detach = attachRenderer(reporter, "plain", process.stderr);
  try {
    const r = await removeNodes({
      file,
      names,
      force: values.force === true,
      drainTimeoutSeconds: values["drain-timeout"] === undefined ? DEFAULT_DRAIN_TIMEOUT_SECONDS : parseDuration("drain-timeout", values["drain-timeout"]),
      write: values.write === true,
      dryRun: values["dry-run"] === true,
      trustNewHostKeys: values["trust-new-host-keys"] === true,
      reporter,
      warn: (m) => process.stderr.write(`warning: ${m}\n`),
    });
    detach();
    process.stdout.write(output === "json" ? JSON.stringify(r, null, 2) + "\n" : summary(r, names) + "\n");
    return 0;
  } finally {
    detach();
  }
}

export const command: Command = {
  name: "node",
  help: HELP,
  async run(args) {
    const [sub, ...rest] = args;
    if (sub === "remove") return remove(rest);
    throw new UsageError(sub ? `node: unknown subcommand "${sub}"` : "node: name a subcommand", "kubeha node remove FILE NAME... (see kubeha node --help)");
  },
};
