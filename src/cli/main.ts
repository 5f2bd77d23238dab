/**
 * The `kubeha` command: a table of subcommands, each in its own file. Commands are thin:
 * they parse flags, call library code and map errors to exit codes (see errors.ts).
 */
import { reportError } from "./errors.ts";

export interface Command {
  name: string;
  summary: string;
  /** Full help text, with examples. */
  help: string;
  run(args: string[]): Promise<number>;
}

const commands: Array<() => Promise<Command>> = [];

/** Registers a command module lazily so `kubeha --help` does not load everything. */
export function lazy(load: () => Promise<Command>): void {
  commands.push(load);
}

async function all(): Promise<Command[]> {
  return Promise.all(commands.map((l) => l()));
}

function usage(cmds: Command[]): string {
  const w = Math.max(...cmds.map((c) => c.name.length));
  return [
    "kubeha: build, prove and run highly available Kubernetes clusters on your own machines.",
    "",
    "Usage: kubeha <command> [flags]",
    "",
    "Commands:",
    ...cmds.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    "",
    "Run `kubeha <command> --help` for a command's flags and examples.",
  ].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  await import("./commands.ts");
  const [name, ...rest] = argv;
  const cmds = await all();
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(usage(cmds) + "\n");
    return name ? 0 : 2;
  }
  if (name === "--version") {
    process.stdout.write("kubeha 0.1.0\n");
    return 0;
  }
  const cmd = cmds.find((c) => c.name === name);
  if (!cmd) {
    process.stderr.write(`kubeha: unknown command "${name}"\n\n${usage(cmds)}\n`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(cmd.help.trimEnd() + "\n");
    return 0;
  }
  try {
    return await cmd.run(rest);
  } catch (err) {
    return reportError(err);
  }
}
