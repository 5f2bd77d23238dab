/** Process checks for tests that start daemons and must stop only their own, by PID. */
import { readdir, readFile } from "node:fs/promises";

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

/**
 * True when every thread of `pid` is stopped (state T in `/proc/<pid>/task/<tid>/stat`). SIGSTOP
 * is delivered asynchronously: a thread busy on another core (or in an uninterruptible wait) goes
 * on for a moment after kill(2) returns.
 */
export async function allStopped(pid: number): Promise<boolean> {
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
  if (!tasks.length) return false;
  for (const t of tasks) {
    const stat = await readFile(`/proc/${pid}/task/${t}/stat`, "utf8").catch(() => "");
    // The state follows the command name, which is in parentheses and may itself hold ") ".
    if (stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "T") return false;
  }
  return true;
}
