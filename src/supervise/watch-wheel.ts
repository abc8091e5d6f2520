// While a gateway's shim watches its readiness, fleetd still has periodic work per agent (a
// ping of the shim, without a cgroup the refresh of its descendants: runner.ts, the watch).
// One timer per agent woke fleetd once per agent per period at 200 different moments
// (~430 wake-ups a minute at N = 200 with 10 s intervals). The wheel gives every agent with
// the same period one shared timer instead: fleetd wakes once per period for all of them and
// their work (their pings) goes out in one turn. An agent's first turn comes within one
// period of joining (the group's timer may already be running), never later; after that,
// exactly once per period, never more often.
import { FleetError } from '../errors.js';
import type { TimerHandle } from './runner-deps.js';

/** One shared timer per period for the periodic work of many agents. */
export interface WatchWheel {
  /**
   * Calls `fn` once per `periodMs` (ms, > 0) on the timer shared by every member of that
   * period, first within one period from now. Returns the function that leaves (idempotent;
   * a member that left is never called again, even later in a turn already under way).
   * FleetError INTERNAL for a period that is not positive.
   */
  join(periodMs: number, fn: () => void): () => void;
  /** How many periods have a timer armed now (0 once every member left). */
  armed(): number;
}

/** The timers the wheel runs on (the runner's deps: real timers, or a test's fake ones). */
export interface WheelTimers {
  setTimer(fn: () => void, ms: number): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

interface Member {
  fn: () => void;
  left: boolean;
}

interface Group {
  members: Set<Member>;
  handle: TimerHandle;
}

const realTimers: WheelTimers = { setTimer: (fn, ms) => setTimeout(fn, ms), clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout) };

/** A wheel on `timers` (real ones by default). A member's `fn` that throws does not keep the others of its turn from running; the first error is thrown after them. */
export function createWatchWheel(timers: WheelTimers = realTimers): WatchWheel {
  const groups = new Map<number, Group>();
  const turn = (periodMs: number) => {
    const group = groups.get(periodMs);
    if (!group) return;
    group.handle = timers.setTimer(() => turn(periodMs), periodMs);
    let failure: { err: unknown } | null = null;
    for (const member of [...group.members]) {
      if (member.left) continue;
      try {
        member.fn();
      } catch (err) {
        failure ??= { err };
      }
    }
    if (failure) throw failure.err;
  };
  return {
    join(periodMs, fn) {
      if (!(periodMs > 0)) throw new FleetError('INTERNAL', `a watch period must be a positive number of ms, not ${periodMs}`);
      let group = groups.get(periodMs);
      if (!group) {
        group = { members: new Set(), handle: timers.setTimer(() => turn(periodMs), periodMs) };
        groups.set(periodMs, group);
      }
      const member: Member = { fn, left: false };
      group.members.add(member);
      const own = group;
      return () => {
        if (member.left) return;
        member.left = true;
        own.members.delete(member);
        if (own.members.size === 0 && groups.get(periodMs) === own) {
          timers.clearTimer(own.handle);
          groups.delete(periodMs);
        }
      };
    },
    armed: () => groups.size,
  };
}
