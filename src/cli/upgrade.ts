import type { Command } from "./main.ts";
import { parseFlags } from "./flags.ts";
import { dataFormat, formatData, OUTPUT_FLAG } from "./output.ts";
import { UsageError, formatProblem } from "../errors.ts";
import { loadCluster } from "../spec/read.ts";
import { parseVersion, fmt, describeUpgrade, upgradeDone } from "../plan/upgrade.ts";
import { upgrade } from "../ops/upgrade.ts";

const HELP = `Usage: kubeha upgrade FILE --to 1.MINOR.PATCH [flags]

Moves the cluster to the Kubernetes version of its cluster file, node by node, with the API up
throughout. The cluster file's spec.kubernetes.version is the desired version: edit it (and, with
packages.source: bundle, point spec.packages.bundle at the new version's bundle), then run this
with --to naming the same version, as a confirmation (a --to that differs from the file is refused).

Order (kubeadm's): the first control plane gets the new kubeadm, \`kubeadm upgrade plan\`, then
\`kubeadm upgrade apply vX.Y.Z -y\`; the other control planes \`kubeadm upgrade node\` one at a time;
then the workers \`kubeadm upgrade node\`, at most --max-unavailable at once. On every node the kubelet
(and kubectl) follow: node drained, kubelet upgraded and restarted, node uncordoned. Before an API
server restarts it is drained on every HAProxy (runtime socket \`set server ... state drain\`) and
put back (\`state ready\`) once its /readyz answers.

Refused before anything changes when Kubernetes' version-skew rules would break: the control plane
moves one minor at a time, no downgrade, a kubelet never newer than the API servers nor more than 3
minors older; kubeadm must be the target version once installed.

Resumable: the versions are read from the hosts on every run, so after an interruption a new run
continues where the hosts are and never repeats \`kubeadm upgrade apply\`; a finished upgrade is a
no-op. Progress is also recorded in the state directory (upgrade.json).

Flags:
  --to VERSION            the target version; must equal spec.kubernetes.version (required)
  --max-unavailable N     workers drained and upgraded at once (default 1)
  --dry-run               read the versions and print the plan; change nothing
  -o, --output FORMAT     table (default: progress on stderr, a summary on stdout), json or yaml
                          (the plan and the versions before/after on stdout)
  --trust-new-host-keys   pin host keys missing from known_hosts

Exit codes: 0 upgraded (or nothing to do), 1 a step failed or a skew rule refused, 2 bad usage,
3 invalid cluster file, 4 a host or the API could not be reached.

Examples:
  kubeha upgrade cluster.yaml --to 1.35.0 --dry-run
  kubeha upgrade cluster.yaml --to 1.35.0
  kubeha upgrade cluster.yaml --to 1.35.0 --max-unavailable 2 -o json | jq .after`;

export const command: Command = {
  name: "upgrade",
  help: HELP,
  async run(args) {
    const { values, positionals } = parseFlags("upgrade", args, {
      to: { type: "string" },
      "max-unavailable": { type: "string" },
      "dry-run": { type: "boolean" },
      ...OUTPUT_FLAG,
      "trust-new-host-keys": { type: "boolean" },
    });
    const [file, ...extra] = positionals;
    if (!file || extra.length) throw new UsageError("upgrade takes exactly one cluster file", "kubeha upgrade cluster.yaml --to 1.35.0");
    const output = dataFormat("upgrade", values.output, ["table", "json", "yaml"]);
    const to = parseVersion(values.to);
    if (!values.to) throw new UsageError("upgrade needs --to VERSION (the cluster file's spec.kubernetes.version)", "kubeha upgrade cluster.yaml --to 1.35.0");
    if (!to) throw new UsageError(`--to must be a version 1.MINOR.PATCH, got "${values.to}"`, "e.g. --to 1.35.0");
    const mu = values["max-unavailable"] === undefined ? 1 : Number(values["max-unavailable"]);
    if (!Number.isInteger(mu) || mu < 1) throw new UsageError(`--max-unavailable must be a whole number of 1 or more, got "${values["max-unavailable"]}"`);
    const { cluster, warnings } = await loadCluster(file);
    for (const w of warnings) process.stderr.write(formatProblem(file, w) + "\n");
    if (fmt(to) !== cluster.kubernetes.version)
      throw new UsageError(
        `--to ${fmt(to)} differs from the cluster file's version ${cluster.kubernetes.version}`,
        `the cluster file is the desired state: set spec.kubernetes.version: ${fmt(to)} in ${file}${cluster.packages.source === "bundle" ? " (and spec.packages.bundle to that version's bundle)" : ""}, then run again`,
      );
    const r = await upgrade(cluster, {
      maxUnavailable: mu,
      dryRun: values["dry-run"] === true,
      trustNewHostKeys: values["trust-new-host-keys"] === true,
      log: (l) => process.stderr.write(`upgrade: ${l}\n`),
    });
    if (output !== "table") {
      process.stdout.write(await formatData(output as "json" | "yaml", { target: cluster.kubernetes.version, dryRun: values["dry-run"] === true, plan: r.plan, before: r.before, ...(r.after ? { after: r.after } : {}) }));
      return 0;
    }
    if (upgradeDone(r.plan)) process.stdout.write(`nothing to do: every node runs ${cluster.kubernetes.version}\n`);
    else if (!r.after) process.stdout.write(`would upgrade to ${cluster.kubernetes.version} (dry run, nothing changed):\n${describeUpgrade(r.plan).map((l) => `  ${l}`).join("\n")}\n`);
    else process.stdout.write(`upgraded to ${cluster.kubernetes.version}:\n${r.after.map((n) => `  ${n.host}: kubelet ${n.kubelet ?? "?"}${n.controlPlane ? `, kube-apiserver ${n.apiserver ?? "?"}` : ""}, kubeadm ${n.kubeadm ?? "?"}`).join("\n")}\n`);
    return 0;
  },
};
