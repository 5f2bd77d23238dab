/**
 * Power control for `lb-machine-down`: kubeha cannot pull a real machine's plug, so it either
 * drives a kubeha lab (`--lab NAME`, machines named like the cluster's hosts) or runs commands the
 * operator gives (`--power-off 'virsh destroy {host}' --power-on 'virsh start {host}'`), after
 * they confirmed them.
 */
import type { Host } from "../spec/model.ts";
import { LocalTransport, shq } from "../exec/transport.ts";
import { labStart, labStatus, labStop } from "../lab/index.ts";
import { KubehaError, UsageError } from "../errors.ts";

export interface Machines {
  /** For the report: "lab kt-drill" or "operator commands". */
  readonly label: string;
  powerOff(h: Host): Promise<void>;
  powerOn(h: Host): Promise<void>;
}

/** The machines of kubeha lab `name`; fails early when a host of the cluster is not one of them. */
export async function labMachines(name: string, hosts: readonly Host[]): Promise<Machines> {
  const s = await labStatus(name);
  const have = new Set(s.machines.map((m) => m.name));
  const missing = hosts.filter((h) => !have.has(h.name)).map((h) => h.name);
  if (missing.length) {
    throw new UsageError(
      `lab ${name} has no machine named ${missing.join(", ")}`,
      `pass the lab the cluster file came from (\`kubeha lab status\` lists machines), or use --power-off/--power-on`,
    );
  }
  return {
    label: `lab ${name}`,
    powerOff: (h) => labStop(name, h.name, { hard: true }),
    powerOn: async (h) => {
      await labStart(name, h.name);
    },
  };
}

/** Fills `{host}` and `{address}` in an operator's command template (shell-quoted). */
export function fillTemplate(template: string, h: Host): string {
  return template.replaceAll("{host}", shq(h.name)).replaceAll("{address}", shq(h.address));
}

/** Power through commands run on this machine. Non-zero exit is an error naming the command. */
export function commandMachines(off: string, on: string): Machines {
  if (!off.includes("{host}") && !off.includes("{address}")) {
    throw new UsageError("--power-off must name the machine with {host} or {address}", "e.g. --power-off 'virsh destroy {host}'");
  }
  const local = new LocalTransport("local");
  const run = async (tpl: string, h: Host, what: string) => {
    const r = await local.run(fillTemplate(tpl, h), { timeoutMs: 120_000 });
    if (r.code !== 0) {
      throw new KubehaError(
        `${what} ${h.name} failed: \`${fillTemplate(tpl, h)}\` exited ${r.code}: ${(r.stderr || r.stdout).trim().split("\n").slice(-1)[0] ?? ""}`,
        "fix the command and run the scenario again; power the machine on by hand if it is still off",
      );
    }
  };
  return {
    label: "operator commands",
    powerOff: (h) => run(off, h, "powering off"),
    powerOn: (h) => run(on, h, "powering on"),
  };
}
