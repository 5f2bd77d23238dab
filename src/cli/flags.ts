/** Flag parsing shared by all commands (node:util parseArgs, strict: unknown flags are errors). */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "../errors.ts";

export function parseFlags<T extends NonNullable<ParseArgsConfig["options"]>>(
  command: string,
  args: string[],
  options: T,
): ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>> {
  const nul = args.find((a) => a.includes("\0"));
  if (nul !== undefined) throw new UsageError(`${command}: an argument contains a NUL byte (${JSON.stringify(nul)})`, "no file name or value can hold one; check how the command line was built");
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${command}: ${(err as Error).message}`, `see \`kubeha ${command} --help\``);
  }
}
