import type { Command } from "./main.ts";
import { parseFlags } from "./flags.ts";
import { UsageError } from "../errors.ts";
import { commentedYaml, exampleFile, type ExampleLb } from "../spec/example.ts";
import { clusterSchema, parseCluster } from "../spec/read.ts";

const LB_MODES: ExampleLb[] = ["colocated", "dedicated", "single", "kube-vip", "external"];

function count(flag: string, v: string | undefined, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > 100) throw new UsageError(`--${flag} must be a whole number from ${min} to 100, got "${v}"`);
  return n;
}

export const command: Command = {
  name: "init",
  help: `Usage: kubeha init [flags] > cluster.yaml

Prints an example cluster file with every field documented, for you to edit.

Flags:
  --name NAME        cluster name (default "ha")
  --masters N        control-plane hosts (default 3)
  --workers N        worker hosts (default 2)
  --lb MODE          how clients reach the API servers (default colocated):
                       colocated  HAProxy + keepalived VIP on the control planes (port 8443)
                       dedicated  HAProxy + keepalived VIP on separate lb hosts (port 6443)
                       single     one HAProxy host, no VIP
                       kube-vip   kube-vip static pods on the control planes
                       external   a cloud L4 load balancer you manage (hairpin: false)
  --lbs N            dedicated lb hosts, with --lb dedicated (default 2)
  --subnet A.B.C     first three octets of the example addresses (default 198.18.0)

Examples:
  kubeha init > cluster.yaml
  kubeha init --lb dedicated --lbs 3 --workers 3 > cluster.yaml
  kubeha init --lb external --name prod > prod.yaml && kubeha validate prod.yaml`,
  async run(args) {
    const { values, positionals } = parseFlags("init", args, {
      name: { type: "string" },
      masters: { type: "string" },
      workers: { type: "string" },
      lb: { type: "string" },
      lbs: { type: "string" },
      subnet: { type: "string" },
    });
    if (positionals.length) throw new UsageError(`init takes no arguments (got "${positionals.join(" ")}")`, "redirect the output: kubeha init > cluster.yaml");
    const lb = (values.lb ?? "colocated") as ExampleLb;
    if (!LB_MODES.includes(lb)) throw new UsageError(`--lb must be one of ${LB_MODES.join(", ")}, got "${values.lb}"`);
    const subnet = values.subnet ?? "198.18.0";
    if (!/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(subnet) || subnet.split(".").some((o) => Number(o) > 255))
      throw new UsageError(`--subnet must be three octets like 198.18.0, got "${subnet}"`);
    const name = values.name ?? "ha";
    if (!/^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$/.test(name)) throw new UsageError(`--name "${name}" is not a valid cluster name`, "lower-case letters, digits and '-', at most 40 characters");
    let file;
    try {
      file = exampleFile({
        name,
        masters: count("masters", values.masters, 3, 1),
        workers: count("workers", values.workers, 2, 0),
        lb,
        lbs: count("lbs", values.lbs, 2, 1),
        subnetPrefix: subnet,
      });
    } catch (err) {
      if (err instanceof RangeError) throw new UsageError(`--subnet ${subnet}: ${err.message}`, "choose a lower --subnet, e.g. 198.18.0");
      throw err;
    }
    const text = commentedYaml(file, clusterSchema());
    // init never prints a file its own validate rejects: the rules decide, not a copy of them here.
    const errors = parseCluster(text).problems.filter((p) => p.severity === "error");
    if (errors.length)
      throw new UsageError(`these flags describe a cluster that \`kubeha validate\` rejects: ${errors.map((p) => `${p.path}: ${p.message}`).join("; ")}`, errors[0]!.hint ?? "change the flags");
    process.stdout.write(text);
    return 0;
  },
};
