/**
 * A lock on every host during apply, so two operators cannot change a cluster at once. The lock is
 * a directory (mkdir is atomic) with an owner file; a heartbeat keeps its mtime fresh, so a lock
 * whose holder died is taken over once it is older than `staleAfterMs`. Released in `finally` and
 * on SIGINT/SIGTERM.
 */
import { randomBytes } from "node:crypto";
import { hostname, userInfo } from "node:os";
import type { Host } from "../spec/model.ts";
import { stepError } from "../util/redact.ts";
import { forEachHost } from "./pool.ts";
import { shq, type Transport } from "./transport.ts";

export const DEFAULT_LOCK_PATH = "/run/kubeha.lock";

export interface LockOptions {
  /** Lock directory on the host. Default /run/kubeha.lock (gone after a reboot, like the holder). */
  path?: string;
  /** A lock not refreshed for this long is taken over. Default 15 minutes. */
  staleAfterMs?: number;
  /** Heartbeat period. Default a third of `staleAfterMs`. */
  heartbeatMs?: number;
}

export interface HostLock {
  host: string;
  /** What the previous, stale holder had written, when this lock was taken over. */
  tookOverFrom?: string;
  release(): Promise<void>;
}

/** `user@machine pid N`: who holds a lock, for the other operator's error message. */
export function defaultHolder(): string {
  let user = "unknown";
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (containers): keep "unknown".
  }
  return `${user}@${hostname()} pid ${process.pid}`;
}

/** Takes the lock on one host or throws a StepError naming the current holder. One round trip. */
export async function acquireLock(t: Transport, holder: string, opts: LockOptions = {}): Promise<HostLock> {
  const path = opts.path ?? DEFAULT_LOCK_PATH;
  const staleS = Math.max(1, Math.round((opts.staleAfterMs ?? 15 * 60_000) / 1000));
  const token = randomBytes(12).toString("hex");
  const d = shq(path);
  const owner = `printf '%s\\n' ${shq(token)} ${shq(holder)} "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > ${shq(path + "/owner")}`;
  const script = [
    `if mkdir ${d} 2>/dev/null; then ${owner}; echo acquired; exit 0; fi`,
    `now=$(date +%s); m=$(stat -c %Y ${d} 2>/dev/null || echo "$now")`,
    `if [ $((now - m)) -ge ${staleS} ]; then echo stale; tail -n +2 ${shq(path + "/owner")} 2>/dev/null; rm -rf ${d}; if mkdir ${d} 2>/dev/null; then ${owner}; exit 0; fi; fi`,
    `echo held; tail -n +2 ${shq(path + "/owner")} 2>/dev/null; exit 3`,
  ].join("\n");
  const r = await t.run(script, { sudo: true });
  const [status, ...rest] = r.stdout.trim().split("\n");
  if (r.code === 3 && status === "held") {
    const [who, since] = rest;
    throw stepError(
      `${t.host} is locked by ${who ?? "an unknown holder"}${since ? ` since ${since}` : ""}`,
      { host: t.host, command: `mkdir ${path}`, exitCode: 3 },
      `another kubeha run holds the lock; wait for it to finish. If it died, the lock expires ${Math.round(staleS / 60)} min after its last heartbeat, or remove ${path} on ${t.host}`,
    );
  }
  if (r.code !== 0 || (status !== "acquired" && status !== "stale")) {
    throw stepError(`cannot take the lock ${path} on ${t.host}`, { host: t.host, command: `mkdir ${path}`, exitCode: r.code, stderrTail: r.stderr.trim() }, `check that ${path}'s parent exists and is writable with sudo`);
  }

  const heartbeatMs = opts.heartbeatMs ?? (staleS * 1000) / 3;
  const timer = setInterval(() => {
    t.run(`touch ${d}`, { sudo: true }).catch(() => {});
  }, heartbeatMs);
  timer.unref();
  let released = false;
  return {
    host: t.host,
    ...(status === "stale" ? { tookOverFrom: rest.join(" ").trim() || "unknown" } : {}),
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      // Only our own lock: a run that lost it to a takeover must not delete the new holder's.
      await t.run(`[ "$(head -n 1 ${shq(path + "/owner")} 2>/dev/null)" = ${shq(token)} ] && rm -rf ${d}; true`, { sudo: true });
    },
  };
}

/**
 * Calls `cleanup` once on SIGINT or SIGTERM, then exits with 130/143. Returns the uninstaller.
 * Needed because Node's default handler exits without running `finally` blocks.
 */
export function onInterrupt(cleanup: () => Promise<void>): () => void {
  let running = false;
  const handler = (sig: NodeJS.Signals) => {
    if (running) return;
    running = true;
    const code = sig === "SIGINT" ? 130 : 143;
    // A stuck host must not keep the operator from getting their terminal back.
    const force = setTimeout(() => process.exit(code), 10_000);
    force.unref();
    cleanup().finally(() => process.exit(code));
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return () => {
    process.off("SIGINT", handler);
    process.off("SIGTERM", handler);
  };
}

/**
 * Holds the lock on every host while `fn` runs: all or nothing (locks taken before a failure are
 * released), released when `fn` ends and on Ctrl-C.
 */
export async function withHostLocks<T>(
  hosts: readonly Host[],
  transportOf: (h: Host) => Promise<Transport>,
  fn: (locks: HostLock[]) => Promise<T>,
  opts: LockOptions & { holder?: string; concurrency?: number } = {},
): Promise<T> {
  const locks: HostLock[] = [];
  const releaseAll = async () => {
    await Promise.all(locks.splice(0).map((l) => l.release().catch(() => {})));
  };
  const uninstall = onInterrupt(releaseAll);
  try {
    try {
      await forEachHost(hosts, opts.concurrency ?? 10, async (h) => {
        locks.push(await acquireLock(await transportOf(h), opts.holder ?? defaultHolder(), opts));
      });
    } catch (err) {
      await releaseAll();
      throw err;
    }
    return await fn([...locks]);
  } finally {
    await releaseAll();
    uninstall();
  }
}
