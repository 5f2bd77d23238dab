import type { Command } from "./main.ts";
import { parseFlags } from "./flags.ts";
import { dataFormat, formatData, OUTPUT_FLAG } from "./output.ts";
import { UsageError, ValidationError, formatProblem, type Problem } from "../errors.ts";
import { loadCluster } from "../spec/read.ts";
import type { Cluster } from "../spec/model.ts";

/** The one-line description of a valid cluster. */
function summary(c: Cluster): string {
  const roles = (r: string) => c.hosts.filter((h) => h.roles.includes(r as never)).length;
  return (
    `${c.hosts.length} hosts: ${roles("control-plane")} control-plane, ${roles("worker")} worker, ${roles("lb")} lb; ` +
    `endpoint ${c.endpoint.mode} ${c.endpoint.host}:${c.endpoint.port}; etcd ${c.etcd.mode}; Kubernetes ${c.kubernetes.version}`
  );
}

export const command: Command = {
  name: "validate",
  help: `Usage: kubeha validate FILE [--strict] [-o table|json|yaml]

Checks the cluster file without touching any machine and prints every problem as
  FILE:LINE:COL path.to.field: message (hint)
Errors make the exit code non-zero (3); warnings do not, unless --strict.

Flags:
  --strict               treat warnings as errors (each is printed once, as an error)
  -o, --output FORMAT    table (default: the lines above on stderr, a summary on stdout), or
                         json / yaml: {file, valid, summary, problems} on stdout, same exit codes

Examples:
  kubeha validate cluster.yaml
  kubeha validate --strict examples/seed-004-dedicated-lbs-8443.yaml
  kubeha validate cluster.yaml -o json | jq -r '.problems[] | "\\(.line) \\(.message)"'`,
  async run(args) {
    const { values, positionals } = parseFlags("validate", args, { strict: { type: "boolean" }, ...OUTPUT_FLAG });
    const [file, ...extra] = positionals;
    if (!file || extra.length) throw new UsageError("validate takes exactly one cluster file", "kubeha validate cluster.yaml");
    const format = dataFormat("validate", values.output, ["table", "json", "yaml"]);
    const data = async (valid: boolean, problems: Problem[], cluster?: Cluster) =>
      process.stdout.write(await formatData(format === "yaml" ? "yaml" : "json", { file, valid, ...(cluster ? { summary: summary(cluster) } : {}), problems }));

    let loaded: Awaited<ReturnType<typeof loadCluster>>;
    try {
      loaded = await loadCluster(file);
    } catch (err) {
      if (format === "table" || !(err instanceof ValidationError)) throw err;
      await data(false, err.problems);
      return err.exitCode;
    }
    const { cluster, warnings } = loaded;
    const strictFail = values.strict === true && warnings.length > 0;
    if (format !== "table") {
      const problems = strictFail ? warnings.map((w) => ({ ...w, severity: "error" as const })) : warnings;
      await data(!strictFail, problems, cluster);
      return strictFail ? new ValidationError(file, problems).exitCode : 0;
    }
    // Under --strict the warnings are the errors: the handler prints them, once.
    if (strictFail) throw new ValidationError(file, warnings.map((w) => ({ ...w, severity: "error" })));
    for (const w of warnings) process.stderr.write(formatProblem(file, w) + "\n");
    process.stdout.write(`${file}: valid (${summary(cluster)})` + (warnings.length ? `, ${warnings.length} warning${warnings.length === 1 ? "" : "s"}` : "") + "\n");
    return 0;
  },
};
