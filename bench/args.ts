/**
 * The flags of a bench script: `--help` prints the script's own doc comment (its usage, kept in one
 * place), and a flag it does not know or a missing value is one line and exit status 2, never a
 * stack trace.
 */
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, type ParseArgsConfig } from "node:util";

/** The first doc comment of the file at `url`, without its comment marks. */
export function docComment(url: string): string {
  const text = readFileSync(fileURLToPath(url), "utf8");
  const m = /\/\*\*([\s\S]*?)\*\//.exec(text);
  return (m?.[1] ?? "")
    .split("\n")
    .map((l) => l.replace(/^\s*\* ?/, ""))
    .join("\n")
    .trim();
}

/** parseArgs for the bench script at `url` (its `import.meta.url`), with `--help`. */
export function benchArgs<T extends NonNullable<ParseArgsConfig["options"]>>(url: string, options: T) {
  const name = `bench/${basename(fileURLToPath(url))}`;
  if (process.argv.slice(2).some((a) => a === "--help" || a === "-h")) {
    console.log(`${name}\n\n${docComment(url)}`);
    process.exit(0);
  }
  try {
    return parseArgs({ options, strict: true, allowPositionals: false });
  } catch (err) {
    console.error(`${name}: ${(err as Error).message} (--help shows the usage)`);
    process.exit(2);
  }
}
