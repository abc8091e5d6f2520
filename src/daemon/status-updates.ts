// The STATUS= line systemd shows, kept current without costing per event (issue 14): a fleet
// start or stop of N agents makes O(N) state events, and a line built per event is O(N) each
// (O(N^2) in all). So a change only marks the line stale; it is built and sent at most once
// per interval (the first change of a quiet period at once, later ones together at the end
// of the interval: the last state is always sent), and never when nobody listens (not under
// systemd). The line itself must be cheap: built from the agents' states alone, never from
// their status views (which read /proc and every agent's cgroup).
import type { RolloutRecord } from '../protocol/rollout.js';
import type { AgentState } from '../supervise/types.js';
import { fleetStatusLine } from './status-line.js';

/** Dependencies of createStatusUpdates (real timers and clock by default). */
export interface StatusUpdatesOptions {
  /** False when nobody reads the line (no NOTIFY_SOCKET): every call is a no-op, the line is never built. */
  enabled: boolean;
  /** Builds the line now. */
  line: () => string;
  /** Sends it (the notifier skips a line equal to the last one). */
  send: (line: string) => void;
  /** At most one line per this many ms (default 1000). */
  intervalMs?: number;
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

/** Coalesced status updates: `changed()` after any change the line shows; `close()` drops a pending one. */
export interface StatusUpdates {
  changed(): void;
  close(): void;
}

/** Default interval between two status lines (ms). */
export const STATUS_UPDATE_INTERVAL_MS = 1000;

/** Creates the coalescer (see the file comment). */
export function createStatusUpdates(o: StatusUpdatesOptions): StatusUpdates {
  const intervalMs = o.intervalMs ?? STATUS_UPDATE_INTERVAL_MS;
  const now = o.now ?? (() => Date.now());
  const setTimer = o.setTimer ?? ((fn: () => void, ms: number) => setTimeout(fn, ms).unref());
  const clearTimer = o.clearTimer ?? ((h: unknown) => clearTimeout(h as NodeJS.Timeout));
  let lastSentAt = -Infinity;
  let timer: unknown;
  let closed = false;

  // Builds and sends the line for the state as it is now.
  function flush(): void {
    timer = undefined;
    if (closed) return;
    lastSentAt = now();
    o.send(o.line());
  }

  return {
    changed(): void {
      if (!o.enabled || closed || timer !== undefined) return; // one pending send covers every change until it runs
      const wait = lastSentAt + intervalMs - now();
      if (wait <= 0) flush();
      else timer = setTimer(flush, wait);
    },
    close(): void {
      closed = true;
      if (timer !== undefined) clearTimer(timer);
      timer = undefined;
    },
  };
}

/** What fleetStatusUpdates reads: the notifier, the agents' states (cheap, no /proc) and the rollout in progress. */
export interface FleetStatusSource {
  sd: { enabled: boolean; status(line: string): Promise<void> };
  states(): readonly AgentState[];
  rollout(): RolloutRecord | null;
}

/** The daemon's STATUS= updates: fleetStatusLine of the agents' states, coalesced (timers and clock as in createStatusUpdates). */
export function fleetStatusUpdates(source: FleetStatusSource, timing: Pick<StatusUpdatesOptions, 'intervalMs' | 'now' | 'setTimer' | 'clearTimer'> = {}): StatusUpdates & { line(): string } {
  const line = () => fleetStatusLine(source.states().map((state) => ({ state })), source.rollout());
  const updates = createStatusUpdates({ ...timing, enabled: source.sd.enabled, line, send: (text) => void source.sd.status(text) });
  return { ...updates, line };
}
