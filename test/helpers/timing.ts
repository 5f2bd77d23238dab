/**
 * Timing tests that hold on a loaded machine: wait for events, not for the wall clock, and bound
 * lateness by how late this process actually ran, measured beside the code under test.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
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

/** How late this process's event loop ran, from now until `stop()`. */
export interface LoopLag {
  /** Stops watching; returns the longest delay seen, in ms, plus the sampling resolution. */
  stop(): number;
}

/**
 * Watches the event loop's delay with a timer of its own (node's histogram): when the machine
 * is loaded or this process is descheduled, every timer of the code under test is late by about
 * as much as this one. A timer that is late by more than this (plus a small constant) is late
 * for a reason of its own, which is what a test should catch.
 */
export function loopLag(resolutionMs = 5): LoopLag {
  const h = monitorEventLoopDelay({ resolution: resolutionMs });
  h.enable();
  return {
    stop() {
      h.disable();
      return h.max / 1e6 + resolutionMs;
    },
  };
}
