import { setTimeout as delay } from 'node:timers/promises';

/** Options of waitFor. */
export interface WaitForOptions {
  timeoutMs: number;
  /** Poll interval (default 25 ms). */
  intervalMs?: number;
  /** Text for the timeout error. */
  what?: string;
}

// Bounded polling instead of fixed sleeps: tests and the daemon wait for a condition,
// never for a guessed amount of time.
/** Resolves with the first truthy value of `predicate`, or rejects after `timeoutMs`. */
export async function waitFor<T>(predicate: () => T | Promise<T>, options: WaitForOptions): Promise<NonNullable<T>> {
  const deadline = Date.now() + options.timeoutMs;
  const interval = options.intervalMs ?? 25;
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
    await delay(interval);
  }
}
