import type { Command } from "./main.ts";
import { parseFlags } from "./flags.ts";
import { OUTPUT_FLAG, PROGRESS_FORMATS } from "./output.ts";
import { UsageError } from "../errors.ts";
import { loadCluster } from "../spec/read.ts";
import { formatProblem } from "../errors.ts";
import { apply, DEFAULT_CONCURRENCY } from "../apply.ts";
import { phaseIds } from "../phases/runner.ts";
import { APPLY_PHASES } from "../phases/apply.ts";
import { Reporter, attachRenderer, formatChanges, type OutputMode } from "../report/index.ts";

const list = (v: string | undefined) => (v ? v.split(",").map((s) => s.trim()).filter(Boolean) : []);

export function applyHelp(name: "apply" | "plan"): string {
  return `Usage: kubeha ${name} FILE [flags]

${name === "plan" ? "Prints exactly what `kubeha apply` would change, per host, without changing anything\n(the same phases run with every change recorded instead of made)." : "Converges the machines in FILE into the cluster it describes, over SSH. Idempotent: a second\nrun on a converged cluster changes nothing and says so; after a failure a re-run continues from\nwhere the machines actually are."}

Flags:
${name === "apply" ? "  --dry-run                 same as `kubeha plan`\n" : ""}  --only IDS                run only these phases (comma-separated; subtrees included)
  --skip-phases IDS         skip these phases (and their subtrees)
  -o, --output MODE         progress: auto (default: tty on a terminal, else plain), tty, plain
                            (both on stderr; the summary of changes goes to stdout), or json
                            (one event per line on stdout, nothing else there)
  --trust-new-host-keys     pin host keys missing from known_hosts (a changed key always stops)
  --concurrency N           hosts worked on at once (default 30)
  --stats                   print SSH round trips per host at the end

Phases: ${phaseIds(APPLY_PHASES).join(", ")}

Examples:
  kubeha ${name} cluster.yaml
  kubeha ${name} lab/lab/cluster.yaml -o json | jq -c 'select(.type == "change")'
  kubeha ${name} cluster.yaml --only lb
  kubeha ${name} cluster.yaml --skip-phases cni,verify`;
}

export async function runApply(name: "apply" | "plan", args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(name, args, {
    "dry-run": { type: "boolean" },
    only: { type: "string" },
    "skip-phases": { type: "string" },
    ...OUTPUT_FLAG,
    "trust-new-host-keys": { type: "boolean" },
    concurrency: { type: "string" },
    stats: { type: "boolean" },
  });
  const [file, ...extra] = positionals;
  if (!file || extra.length) throw new UsageError(`${name} takes exactly one cluster file`, `kubeha ${name} cluster.yaml`);
  const output = (values.output ?? "auto") as OutputMode;
  if (!(PROGRESS_FORMATS as readonly string[]).includes(output)) throw new UsageError(`${name}: -o/--output must be one of ${PROGRESS_FORMATS.join(", ")}, got "${values.output}"`, `e.g. kubeha ${name} FILE -o json`);
  const concurrency = values.concurrency === undefined ? DEFAULT_CONCURRENCY : Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`--concurrency must be a whole number of 1 or more`);
  const dryRun = name === "plan" || values["dry-run"] === true;
  const { cluster, warnings } = await loadCluster(file);
  for (const w of warnings) process.stderr.write(formatProblem(file, w) + "\n");
  const reporter = new Reporter();
  // JSON events are the command's output (stdout); the human progress views are diagnostics (stderr).
  const detach = attachRenderer(reporter, output, output === "json" ? process.stdout : process.stderr);
  try {
    const r = await apply(cluster, {
      dryRun,
      only: list(values.only),
      skip: list(values["skip-phases"]),
      trustNewHostKeys: values["trust-new-host-keys"] === true,
      concurrency,
      reporter,
      notice: (m) => process.stderr.write(`note: ${m}\n`),
    });
    detach();
    if (output !== "json") process.stdout.write(formatChanges(r.changes, cluster.hosts.map((h) => h.name), dryRun) + "\n");
    if (values.stats) for (const s of r.roundTrips) process.stdout.write(`round trips ${s.host}: ${s.roundTrips}\n`);
    return 0;
  } finally {
    detach();
  }
}

export const command: Command = {
  name: "apply",
  help: applyHelp("apply"),
  run: (args) => runApply("apply", args),
};
