/**
 * Every command, in the order `kubeha --help` lists them: name, one-line summary and how to load
 * it. Only the command that runs is imported, so `kubeha --help` and `kubeha --version` load
 * this table and nothing else.
 */
import type { Command } from "./main.ts";

export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<Command>;
}

export const COMMANDS: CommandEntry[] = [
  { name: "init", summary: "Print a commented example cluster file", load: async () => (await import("./init.ts")).command },
  { name: "validate", summary: "Check a cluster file and report every problem at once", load: async () => (await import("./validate.ts")).command },
  { name: "render", summary: "Write every host's files and a readable install.sh into a directory", load: async () => (await import("./render.ts")).command },
  { name: "schema", summary: "Print the cluster file's JSON schema (for editors)", load: async () => (await import("./schema.ts")).command },
  { name: "plan", summary: "Show what apply would change, per host, changing nothing", load: async () => (await import("./plan.ts")).command },
  { name: "apply", summary: "Converge the machines into the cluster (idempotent)", load: async () => (await import("./apply.ts")).command },
  { name: "status", summary: "Show the cluster's health: hosts, VIP, HAProxy backends, etcd, apiservers, certificates", load: async () => (await import("./status.ts")).command },
  { name: "node", summary: "Take hosts out of the running cluster (node remove: drain, reset, etcd member, LB peers)", load: async () => (await import("./node.ts")).command },
  { name: "drill", summary: "Break the cluster one fault at a time and measure failover (blackout, VIP move, etcd loss)", load: async () => (await import("./drill.ts")).command },
  { name: "join-command", summary: "Print a kubeadm join line (fresh token, CA pin) for a machine kubeha does not manage", load: async () => (await import("./join-command.ts")).command },
  { name: "reset", summary: "Undo what kubeha did on the hosts (kubeadm reset, units, files, VIP, /etc/hosts)", load: async () => (await import("./reset.ts")).command },
  { name: "certs", summary: "List, check, generate certificates; rotate join material", load: async () => (await import("./certs.ts")).command },
  { name: "etcd", summary: "Snapshot etcd to this machine, or restore every member from a snapshot", load: async () => (await import("./etcd.ts")).command },
  { name: "upgrade", summary: "Upgrade the cluster to the cluster file's Kubernetes version, node by node, with the API up", load: async () => (await import("./upgrade.ts")).command },
  { name: "lab", summary: "Local systemd-nspawn machines to try and prove kubeha on (up, down, stop, partition...)", load: async () => (await import("./lab.ts")).command },
  { name: "version", summary: "Print kubeha's version (-o json for the details)", load: async () => (await import("./version.ts")).command },
  { name: "completion", summary: "Print a shell completion script (bash, zsh or fish)", load: async () => (await import("./completion.ts")).command },
  { name: "help", summary: "Show help for kubeha or for one command (kubeha help validate)", load: async () => helpCommand },
];

const helpCommand: Command = {
  name: "help",
  help: `Usage: kubeha help [COMMAND]

Shows the list of commands, or one command's flags and examples (the same as kubeha COMMAND --help).

Examples:
  kubeha help
  kubeha help validate`,
  // main() answers `help` itself (it needs the table); this entry is for --help and completion.
  run: async () => 0,
};
