/** Process checks for tests that start daemons and must stop only their own, by PID. */
import { readFile } from "node:fs/promises";

/** True while `pid` exists (signal 0). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** `/proc/<pid>/cmdline` (NUL-separated), "" when the process is gone: checked before a kill against PID reuse. */
export function cmdline(pid: number): Promise<string> {
  return readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
}

/** Polls until `pid` is gone, at most `ms`; true when it is. */
export async function waitGone(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return !alive(pid);
}
