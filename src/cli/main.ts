/**
 * The `kubeha` command: a table of subcommands (commands.ts), each in its own file and loaded
 * only when it runs. Commands are thin: they parse flags, call library code and map errors to
 * exit codes (see errors.ts).
 */
import { COMMANDS } from "./commands.ts";
import { reportError } from "./errors.ts";

export interface Command {
  name: string;
  /** Full help text, with examples. */
  help: string;
  /** Runs with the arguments after the command name; everything after `--` is passed as is. */
  run(args: string[]): Promise<number>;
}

export function usage(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "kubeha: build, prove and run highly available Kubernetes clusters on your own machines.",
    "",
    "Usage: kubeha <command> [flags]",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    "",
    "Run `kubeha help <command>` (or `kubeha <command> --help`) for a command's flags and examples.",
  ].join("\n");
}

const unknown = (name: string) => {
  process.stderr.write(`kubeha: unknown command "${name}"\n\n${usage()}\n`);
  return 2;
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  // Like kubectl: bare `kubeha` prints the help and succeeds.
  if (!name || name === "--help" || name === "-h" || (name === "help" && rest.length === 0)) {
    process.stdout.write(usage() + "\n");
    return 0;
  }
  try {
    if (name === "help") {
      const [topic, ...more] = rest;
      const entry = COMMANDS.find((c) => c.name === (topic === "--help" || topic === "-h" ? "help" : topic));
      if (!entry || more.length) return unknown(rest.join(" "));
      process.stdout.write((await entry.load()).help.trimEnd() + "\n");
      return 0;
    }
    const entry = COMMANDS.find((c) => c.name === (name === "--version" ? "version" : name));
    if (!entry) return unknown(name);
    const cmd = await entry.load();
    // Flags after `--` belong to whatever the command passes them to (`lab exec m -- ls -h`).
    const dd = rest.indexOf("--");
    const own = dd >= 0 ? rest.slice(0, dd) : rest;
    if (own.includes("--help") || own.includes("-h")) {
      process.stdout.write(cmd.help.trimEnd() + "\n");
      return 0;
    }
    return await cmd.run(rest);
  } catch (err) {
    return reportError(err);
  }
}
