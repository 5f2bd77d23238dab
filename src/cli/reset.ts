import { createInterface } from "node:readline/promises";
import type { Command } from "./main.ts";
import { parseFlags } from "./flags.ts";
import { dataFormat, formatData, OUTPUT_FLAG } from "./output.ts";
import { EXIT, KubehaError, UsageError, formatProblem } from "../errors.ts";
import { loadCluster } from "../spec/read.ts";
import { reset, resetWarnings, type ResetHostReport, type ResetReport } from "../ops/reset.ts";
import { PATHS } from "../render/paths.ts";
import { KEPT_PACKAGES } from "../plan/reset.ts";

const HELP = `Usage: kubeha reset FILE [--host NAME...] [--purge-packages] [--yes] [--forget] [--dry-run] [-o json]

Undoes what kubeha did on the hosts, from each host's own plan (the one apply runs):
\`kubeadm reset -f\` where kubeadm ran (\`bootstrap: binary\`: the kubelet's bootstrapped
certificate and state emptied instead); the units kubeha started stopped and disabled (kubelet,
haproxy, keepalived, external etcd and its data, the container runtime); every file kubeha placed
and its systemd drop-ins removed (a file that belongs to a Debian package is kept while the
package stays); the VIP released; kubeha's block of /etc/hosts removed; directories left
empty removed. With --purge-packages the Debian packages kubeha installed are purged (each host
keeps the list in ${PATHS.installedPackages}; a package that was there before kubeha stays, and so
do ${KEPT_PACKAGES.join(", ")}), with what apt no longer needs, the runtime's data and the offline
bundle's files.
Not undone: the hostname, kernel settings already in effect (until reboot).

A second reset finds nothing to do and says so. Without --host every host is reset; resetting
some hosts while others stay (a control plane, an etcd member, a load balancer) warns: reset
does not take a host out of the cluster. The state directory (certificates, keys) is kept unless
--forget (only with every host).

Asks for confirmation on a terminal; elsewhere --yes is required (exit 2 without it).

Flags:
  --host NAME        reset only this host (repeatable)
  --purge-packages   also purge the packages kubeha installed
  --yes              do not ask
  --forget           also delete the local state directory (whole-cluster reset only)
  --dry-run          print per host what reset would do, change nothing
  -o, --output FMT   table (default) or json (per host: actions and their status)

Exit code: 0 done (or nothing to do); 1 a host failed; 2 bad usage; 4 a host could not be reached.

Examples:
  kubeha reset cluster.yaml --dry-run
  kubeha reset cluster.yaml --host worker3 --yes
  kubeha reset cluster.yaml --purge-packages --forget --yes`;

function hostLines(r: ResetHostReport, dryRun: boolean): string[] {
  if (r.unreachable) return [`${r.host}: could not be reached: ${r.error}`];
  if (r.clean) return [`${r.host}: nothing to reset (already clean)`];
  const head = dryRun ? `${r.host}: would ${r.actions.length} action(s)` : `${r.host}: ${r.actions.filter((a) => a.status === "done").length} action(s) done`;
  const mark = { pending: "-", done: "-", failed: "!" } as const;
  return [head, ...r.actions.map((a) => `  ${mark[a.status]} ${a.description}${a.status === "failed" ? " (FAILED)" : ""}`), ...(r.error ? [`  error: ${r.error}`] : [])];
}

export function resetExitCode(r: ResetReport): number {
  if (r.hosts.some((h) => h.error && !h.unreachable)) return EXIT.failed;
  if (r.hosts.some((h) => h.unreachable)) return EXIT.unreachable;
  return EXIT.ok;
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

export const command: Command = {
  name: "reset",
  help: HELP,
  async run(args) {
    const { values, positionals } = parseFlags("reset", args, {
      host: { type: "string", multiple: true },
      "purge-packages": { type: "boolean" },
      yes: { type: "boolean" },
      forget: { type: "boolean" },
      "dry-run": { type: "boolean" },
      ...OUTPUT_FLAG,
    });
    const [file, ...extra] = positionals;
    if (!file || extra.length) throw new UsageError("reset takes exactly one cluster file", "kubeha reset cluster.yaml --dry-run");
    const format = dataFormat("reset", values.output, ["table", "json"]);
    const { cluster, warnings } = await loadCluster(file, { operate: true });
    for (const w of warnings) process.stderr.write(formatProblem(file, w) + "\n");
    const names = values.host ?? [];
    const unknown = names.filter((n) => !cluster.hosts.some((h) => h.name === n));
    if (unknown.length) throw new UsageError(`reset: no host named ${unknown.join(", ")} in ${file}`, `the hosts are ${cluster.hosts.map((h) => h.name).join(", ")}`);
    const hosts = names.length ? cluster.hosts.filter((h) => names.includes(h.name)) : cluster.hosts;
    const whole = hosts.length === cluster.hosts.length;
    if (values.forget && !whole) throw new UsageError("--forget deletes the whole cluster's state directory: only with every host", "drop --forget, or reset every host (no --host)");
    const dryRun = values["dry-run"] ?? false;
    for (const w of resetWarnings(cluster, hosts)) process.stderr.write(`warning: ${w}\n`);

    if (!dryRun && !values.yes) {
      const what = `reset ${whole ? `the whole cluster ${cluster.name}` : hosts.map((h) => h.name).join(", ")} (${hosts.length} host(s))${values["purge-packages"] ? ", purging packages" : ""}${values.forget ? ", deleting the state directory" : ""}`;
      if (!process.stdin.isTTY) throw new UsageError(`reset needs confirmation to ${what}, and stdin is not a terminal`, "run `kubeha reset FILE --dry-run` to see what it does, then add --yes");
      if (!(await confirm(`This will ${what}. Continue? [y/N] `))) throw new KubehaError("reset cancelled: nothing was changed", undefined, EXIT.usage);
    }

    const report = await reset(cluster, {
      hosts,
      purgePackages: values["purge-packages"] ?? false,
      dryRun,
      forget: values.forget ?? false,
      ...(format === "table" ? { onHost: (r: ResetHostReport) => process.stdout.write(hostLines(r, dryRun).join("\n") + "\n") } : {}),
    });
    if (format === "json") process.stdout.write(await formatData("json", report));
    else if (!dryRun) {
      if (report.hosts.every((h) => h.clean)) process.stdout.write("nothing to reset: every host was already clean\n");
      process.stdout.write(report.stateDirDeleted ? `deleted the state directory ${report.stateDir}\n` : `state directory kept: ${report.stateDir}${whole ? " (--forget deletes it)" : ""}\n`);
    }
    return resetExitCode(report);
  },
};
