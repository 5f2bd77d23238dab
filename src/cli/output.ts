/**
 * `-o/--output`, one vocabulary across commands (kubectl's habit):
 * - data commands (status, certs list/check, validate, version) print `table` (default), `wide`
 *   (the table with every column), `json` or `yaml` on stdout; each accepts the subset it has.
 * - commands that report progress (plan, apply) take `auto|tty|plain|json`; `json` is one event
 *   per line on stdout.
 * Diagnostics (warnings, errors, progress text) always go to stderr.
 */
import { UsageError } from "../errors.ts";

export const DATA_FORMATS = ["table", "wide", "json", "yaml"] as const;
export type DataFormat = (typeof DATA_FORMATS)[number];

/** The `-o/--output` modes of commands that report progress (plan, apply). */
export const PROGRESS_FORMATS = ["auto", "tty", "plain", "json"] as const;
export type ProgressFormat = (typeof PROGRESS_FORMATS)[number];

/** The `-o/--output` flag definition for parseFlags. */
export const OUTPUT_FLAG = { output: { type: "string", short: "o" } } as const;

/** Checks `-o VALUE` against what `command` supports; `table` when not given. */
export function dataFormat(command: string, value: string | undefined, supported: readonly DataFormat[] = DATA_FORMATS): DataFormat {
  if (value === undefined) return "table";
  if (!(supported as readonly string[]).includes(value)) {
    throw new UsageError(`${command}: -o/--output must be one of ${supported.join(", ")}, got "${value}"`, `e.g. kubeha ${command} -o json`);
  }
  return value as DataFormat;
}

/** The data as `json` (indented) or `yaml`, newline-terminated. */
export async function formatData(format: "json" | "yaml", data: unknown): Promise<string> {
  if (format === "json") return JSON.stringify(data, null, 2) + "\n";
  return (await import("yaml")).stringify(data, { lineWidth: 0 }); // loaded only when asked for
}
