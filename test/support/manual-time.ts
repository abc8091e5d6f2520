// A manual clock with timers, for code that takes `now`, `setTimer` and `clearTimer` as
// dependencies: nothing sleeps, a test moves time itself. `advance(ms)` fires every timer due by
// then in the order of their deadlines, with the clock at each one's deadline while it runs
// (timers set meanwhile fire too when due within the step).

/** The clock and timers (start at `start` ms, default 0). */
export function manualTime(start = 0) {
  let now = start;
  let nextId = 1;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => now,
    setTimer: (fn: () => void, ms: number): unknown => {
      const id = nextId++;
      timers.set(id, { at: now + Math.max(0, ms), fn });
      return id;
    },
    clearTimer: (id: unknown) => void timers.delete(id as number),
    /** Timers set and not yet fired or cleared. */
    pending: () => timers.size,
    advance(ms: number): void {
      const target = now + ms;
      for (;;) {
        const due = [...timers].filter(([, t]) => t.at <= target).sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
        if (!due) break;
        timers.delete(due[0]);
        now = due[1].at;
        due[1].fn();
      }
      now = target;
    },
  };
}
