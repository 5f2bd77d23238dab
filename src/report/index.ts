/** Picks the renderer for `--output` and the stream: JSON lines, live TTY view, or plain lines. */
import type { Reporter } from "./events.ts";
import { attachJson } from "./json.ts";
import { attachPlain } from "./plain.ts";
import { attachTty, type TtyStream } from "./tty.ts";

export type OutputMode = "auto" | "tty" | "plain" | "json";

export { Reporter, record, errorInfo, type RunEvent, type ErrorInfo, type PhaseInfo } from "./events.ts";
export { formatChanges, type Change } from "./summary.ts";

/** Subscribes the renderer `mode` asks for ("auto": TTY view when `out.isTTY`, else plain). */
export function attachRenderer(r: Reporter, mode: OutputMode, out: TtyStream & { isTTY?: boolean }): () => void {
  const write = (s: string) => out.write(s);
  if (mode === "json") return attachJson(r, write);
  if (mode === "tty" || (mode === "auto" && out.isTTY)) return attachTty(r, out);
  return attachPlain(r, write);
}
