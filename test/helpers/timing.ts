/**
 * Timing tests that hold on a loaded machine: wait for events (bounded), not for the wall clock.
 * A CPU-starved test process can take seconds for a loopback TLS request while its event loop is
 * never more than a few hundred ms late, so upper bounds on durations prove little and fail often;
 * a test proves the mechanism (what ended a request, who saw what) and a lower bound instead.
 */
import { setTimeout as sleep } from "node:timers/promises";

/**
 * Polls `cond` every `everyMs` until it holds; fails with `what` after `maxMs` (a bound for a
 * broken build, far above what any load makes an event take).
 */
export async function until(cond: () => boolean, what: string, maxMs = 30_000, everyMs = 10): Promise<void> {
  const end = performance.now() + maxMs;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out after ${maxMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** `until` for a condition that has to read something (a log file). */
export async function untilAsync(cond: () => Promise<boolean>, what: string, maxMs = 30_000, everyMs = 50): Promise<void> {
  const end = performance.now() + maxMs;
  while (!(await cond())) {
    if (performance.now() > end) throw new Error(`timed out after ${maxMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
