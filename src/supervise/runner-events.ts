// The runner's listeners: subscribe, emit (a throwing listener is logged, never breaks the
// runner), and wait for a status matching a predicate with a bounded timeout.
import { FleetError } from '../errors.js';
import type { RunnerDeps, RunnerLogger } from './runner-deps.js';
import type { RunnerEvents, StatePredicate } from './runner-types.js';
import type { RunnerStatus } from './types.js';

/** Listener sets of one runner. */
export class RunnerEventHub {
  private readonly listeners: { [E in keyof RunnerEvents]: Set<RunnerEvents[E]> } = { state: new Set(), process: new Set() };

  constructor(private readonly log: RunnerLogger) {}

  /** Subscribes; returns the unsubscribe function. */
  on<E extends keyof RunnerEvents>(event: E, listener: RunnerEvents[E]): () => void {
    this.listeners[event].add(listener);
    return () => this.off(event, listener);
  }

  /** Unsubscribes. */
  off<E extends keyof RunnerEvents>(event: E, listener: RunnerEvents[E]): void {
    this.listeners[event].delete(listener);
  }

  /** Calls every listener of `event`; one that throws is logged and the others still run. */
  emit<E extends keyof RunnerEvents>(event: E, value: Parameters<RunnerEvents[E]>[0]): void {
    for (const listener of [...this.listeners[event]]) {
      try {
        (listener as (v: typeof value) => void)(value);
      } catch (err) {
        this.log.error({ err, event }, 'runner event listener threw');
      }
    }
  }

  /** Resolves with the first status matching `predicate` (now or on a later state event); FleetError TIMEOUT naming `describe()` after timeoutMs. */
  waitFor(current: () => RunnerStatus, predicate: StatePredicate, timeoutMs: number, timers: Pick<RunnerDeps, 'setTimer' | 'clearTimer'>, describe: () => string): Promise<RunnerStatus> {
    const matches =
      typeof predicate === 'function' ? predicate : (s: RunnerStatus) => (typeof predicate === 'string' ? s.state === predicate : predicate.includes(s.state));
    return new Promise((resolve, reject) => {
      const now = current();
      if (matches(now)) return resolve(now);
      const off = this.on('state', (s) => {
        if (!matches(s)) return;
        off();
        timers.clearTimer(timer);
        resolve(s);
      });
      const timer = timers.setTimer(() => {
        off();
        reject(new FleetError('TIMEOUT', `${describe()} within ${timeoutMs} ms`));
      }, timeoutMs);
    });
  }
}
