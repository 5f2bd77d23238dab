/** The one retry helper: bounded in attempts and in time, with exponential backoff. */

export interface RetryOptions {
  /** Total attempts including the first. Default 5. */
  attempts?: number;
  /** Delay before the second attempt, in ms. Default 500. */
  delayMs?: number;
  /** Factor applied to the delay after each failure. Default 2. */
  backoff?: number;
  /** Upper bound for one delay, in ms. Default 10 000. */
  maxDelayMs?: number;
  /** Give up once this many ms have passed since the first attempt (no attempt starts after it). */
  deadlineMs?: number;
  /** Return false for errors that retrying cannot fix (bad credentials, changed host key). */
  retryIf?: (err: unknown) => boolean;
  /** Called before each wait; for progress messages. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** Aborts the waiting; the last error is thrown. */
  signal?: AbortSignal;
}

/** Calls `fn` until it resolves; rethrows the last error when attempts or the deadline run out. */
export async function retry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const attempts = Math.max(1, opts.attempts ?? 5);
  const backoff = opts.backoff ?? 2;
  const maxDelay = opts.maxDelayMs ?? 10_000;
  const start = Date.now();
  let delay = opts.delayMs ?? 500;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= attempts || opts.signal?.aborted) throw err;
      if (opts.retryIf && !opts.retryIf(err)) throw err;
      let wait = Math.min(delay, maxDelay);
      if (opts.deadlineMs !== undefined) {
        const left = opts.deadlineMs - (Date.now() - start);
        if (left <= 0) throw err;
        wait = Math.min(wait, left);
      }
      opts.onRetry?.(err, attempt, wait);
      await sleep(wait, opts.signal);
      delay *= backoff;
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((res) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      res();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
