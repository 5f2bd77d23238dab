import type { Command } from "./main.ts";
import { parseFlags } from "./flags.ts";
import { UsageError, ValidationError, formatProblem } from "../errors.ts";
import { loadCluster } from "../spec/read.ts";

export const command: Command = {
  name: "validate",
  help: `Usage: kubeha validate FILE [--strict]

Checks the cluster file without touching any machine and prints every problem as
  FILE:LINE:COL path.to.field: message (hint)
Errors make the exit code non-zero (3); warnings do not, unless --strict.

Flags:
  --strict   treat warnings as errors

Examples:
  kubeha validate cluster.yaml
  kubeha validate --strict examples/seed-004-dedicated-lbs.yaml`,
  async run(args) {
    const { values, positionals } = parseFlags("validate", args, { strict: { type: "boolean" } });
    const [file, ...extra] = positionals;
    if (!file || extra.length) throw new UsageError("validate takes exactly one cluster file", "kubeha validate cluster.yaml");
    const { cluster, warnings } = await loadCluster(file);
    for (const w of warnings) process.stderr.write(formatProblem(file, w) + "\n");
    if (values.strict && warnings.length) throw new ValidationError(file, warnings.map((w) => ({ ...w, severity: "error" })));
    const roles = (r: string) => cluster.hosts.filter((h) => h.roles.includes(r as never)).length;
    process.stdout.write(
      `${file}: valid (${cluster.hosts.length} hosts: ${roles("control-plane")} control-plane, ${roles("worker")} worker, ` +
        `${roles("lb")} lb; endpoint ${cluster.endpoint.mode} ${cluster.endpoint.host}:${cluster.endpoint.port}; ` +
        `etcd ${cluster.etcd.mode}; Kubernetes ${cluster.kubernetes.version})` +
        (warnings.length ? `, ${warnings.length} warning${warnings.length === 1 ? "" : "s"}` : "") +
        "\n",
    );
    return 0;
  },
};
