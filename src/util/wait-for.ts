import { setTimeout as delay } from 'node:timers/promises';

/** Options of waitFor. */
export interface WaitForOptions {
  timeoutMs: number;
  /** Poll interval (default 25 ms); with firstIntervalMs, the longest one. */
  intervalMs?: number;
  /** First poll interval (ms), doubled at each poll up to intervalMs: for a condition that usually turns true within a millisecond or two, but may take longer. */
  firstIntervalMs?: number;
  /** Waits `ms` between polls (default a timer); tests pass one that records the schedule. */
  sleep?: (ms: number) => Promise<unknown>;
  /** Text for the timeout error. */
  what?: string;
}

// Bounded polling instead of fixed sleeps: tests and the daemon wait for a condition,
// never for a guessed amount of time.
/** Resolves with the first truthy value of `predicate`, or rejects after `timeoutMs`. */
export async function waitFor<T>(predicate: () => T | Promise<T>, options: WaitForOptions): Promise<NonNullable<T>> {
  const deadline = Date.now() + options.timeoutMs;
  const interval = options.intervalMs ?? 25;
  const sleep = options.sleep ?? delay;
  let next = Math.min(options.firstIntervalMs ?? interval, interval);
  let lastError: unknown;
  for (;;) {
    try {
      const value = await predicate();
      if (value) return value as NonNullable<T>;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const suffix = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what ?? 'condition'}${suffix}`);
    }
    await sleep(next);
    next = Math.min(next * 2, interval);
  }
}
