// Memory given back once the fleet settles (issue 14: "RSS at most 60 MiB after idle and no
// growth over an hour"). A burst (a first start, `start --all` after `stop --all`, a reload that
// restarts many agents) grows V8's heap and malloc's arenas; both keep what they grew for a while.
// V8's own memory reducer shrinks the heap only when a later full collection arms it, which an
// idle fleetd (a probe every 10 s per agent) may not make for minutes: fleetd with 200 agents sat
// at 66.7-67.3 MiB for 8 minutes after a start-all-again before it fell to ~60. glibc returns
// freed pages inside its arenas only when asked (malloc_trim).
//
// So fleetd asks, through its memory addon (src/daemon/native/memory-reclaim.c): once no event
// has been published for RECLAIM_QUIET_MS (the burst is over; at most one such reclaim per
// RECLAIM_MIN_GAP_MS, so an agent that flaps costs little), and at least every RECLAIM_EVERY_MS
// (V8's heap regrows between collections; a fleet never quiet, e.g. a crash loop, is reclaimed
// too). At 200 agents one reclaim holds the thread 25-35 ms and costs ~60 ms of CPU in all (V8
// collects several times and drops bytecode not in use, which is compiled again when next run):
// docs/overhead.md. Without the addon (no C compiler at build time) fleetd runs as before and
// says so once in its log.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** What the memory addon exports (src/daemon/native/memory-reclaim.c). */
export interface MemoryAddon {
  /** node::LowMemoryNotification(): V8 collects all it can and shrinks its spaces, on this thread; false when this node does not export the call. */
  lowMemory(): boolean;
  /** Whether lowMemory() can do anything on this node. */
  lowMemoryAvailable(): boolean;
  /** glibc malloc_trim(0): free pages in every arena go back to the kernel; true when some did. */
  mallocTrim(): boolean;
}

/** Where the build puts the addon, relative to this module (dist/fleetd/ or .test-build/src/daemon/: ../native/). */
export const MEMORY_ADDON_PATH = fileURLToPath(new URL('../native/fleetd-memory.node', import.meta.url));

/** The addon, or why there is none (the path and the loader's words). */
export type MemoryAddonLoad = { addon: MemoryAddon } | { unavailable: string };

/**
 * Loads the memory addon from `path` (default MEMORY_ADDON_PATH). Never throws: a missing file
 * ("not built: ..."), one node cannot load, or one without the calls is `{ unavailable }`.
 */
export function loadMemoryAddon(path: string = MEMORY_ADDON_PATH): MemoryAddonLoad {
  let addon: Partial<MemoryAddon>;
  try {
    addon = createRequire(import.meta.url)(path) as Partial<MemoryAddon>;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'MODULE_NOT_FOUND') return { unavailable: `${path} was not built (no C compiler at build time?)` };
    // the loader's first line (dlopen's names the file itself: not twice)
    const first = (err as Error).message.split('\n')[0] ?? '';
    return { unavailable: `${path} does not load: ${first.startsWith(`${path}: `) ? first.slice(path.length + 2) : first}` };
  }
  for (const name of ['lowMemory', 'lowMemoryAvailable', 'mallocTrim'] as const) {
    if (typeof addon[name] !== 'function') return { unavailable: `${path} has no ${name}(): not fleetd's memory addon, or an older one` };
  }
  return { addon: addon as MemoryAddon };
}

/** One reclaim's outcome: resident set before and after (bytes), how long it held the thread (ms, wall clock). */
export interface ReclaimResult {
  rssBefore: number;
  rssAfter: number;
  ms: number;
  /** What ran: V8's collection (false when this node lacks the call), glibc's trim (true when it gave pages back). */
  v8: boolean;
  trimmed: boolean;
  /** Why it ran: the fleet went quiet after activity, or the periodic one while quiet. */
  cause: 'settled' | 'periodic';
}

/** No event for this long (ms) and a burst counts as over. */
export const RECLAIM_QUIET_MS = 10_000;
/** A reclaim after a burst comes at least this long (ms) after the one before. */
export const RECLAIM_MIN_GAP_MS = 60_000;
/** At least one reclaim this often (ms), quiet or not. */
export const RECLAIM_EVERY_MS = 5 * 60_000;

/** Dependencies of createMemoryReclaimer (real timers, clock and RSS by default). Durations are ms, positive, at most 2^31 - 1 (a timer's range); else a RangeError. */
export interface MemoryReclaimerOptions {
  addon: MemoryAddon;
  /** Called after each reclaim (fleetd logs it at debug). */
  onReclaim?: (result: ReclaimResult) => void;
  /** A reclaim the timer ran threw (the addon, or onReclaim): fleetd logs it; the timer goes on. */
  onError?: (err: unknown) => void;
  /** Default RECLAIM_QUIET_MS. */
  quietMs?: number;
  /** Default RECLAIM_MIN_GAP_MS. */
  minGapMs?: number;
  /** Default RECLAIM_EVERY_MS. */
  everyMs?: number;
  /** A monotonic clock in ms (default performance.now). */
  now?: () => number;
  /** The process's resident set in bytes (default process.memoryUsage.rss). */
  rss?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

/** A duration option, checked: a non-finite, non-positive or too long one would spin a timer. */
function duration(name: string, value: number | undefined, fallback: number): number {
  const ms = value ?? fallback;
  if (!Number.isFinite(ms) || ms <= 0 || ms > 2 ** 31 - 1) throw new RangeError(`memory reclaimer: ${name} must be a positive number of ms up to 2^31 - 1, not ${ms}`);
  return ms;
}

/** The reclaimer: `activity()` at each event (cheap: a number set), `close()` at shutdown. */
export interface MemoryReclaimer {
  activity(): void;
  /** Reclaims now (what the timer does); returns what it did. */
  reclaim(cause: ReclaimResult['cause']): ReclaimResult;
  close(): void;
}

/**
 * Creates the reclaimer and arms its timer: a reclaim runs quietMs after the last activity (but
 * not sooner than minGapMs after the reclaim before), and everyMs after the last reclaim (or the
 * creation) whatever happens: a fleet that never goes quiet, e.g. an agent in a crash loop, is
 * still reclaimed. One unref'd timer at a time; activity only moves a deadline, the timer re-arms
 * itself when it fires early. Throws a RangeError for a bad duration (see MemoryReclaimerOptions).
 */
export function createMemoryReclaimer(o: MemoryReclaimerOptions): MemoryReclaimer {
  const quietMs = duration('quietMs', o.quietMs, RECLAIM_QUIET_MS);
  const minGapMs = duration('minGapMs', o.minGapMs, RECLAIM_MIN_GAP_MS);
  const everyMs = duration('everyMs', o.everyMs, RECLAIM_EVERY_MS);
  const now = o.now ?? (() => performance.now());
  const rss = o.rss ?? (() => process.memoryUsage.rss());
  const setTimer = o.setTimer ?? ((fn: () => void, ms: number) => setTimeout(fn, ms).unref());
  const clearTimer = o.clearTimer ?? ((h: unknown) => clearTimeout(h as NodeJS.Timeout));
  const created = now();
  let lastReclaim: number | undefined;
  let lastActivity: number | undefined; // since the last reclaim
  let timer: unknown;
  let armedFor = Infinity;
  let closed = false;

  const settledAt = () => (lastActivity === undefined ? Infinity : Math.max(lastActivity + quietMs, lastReclaim === undefined ? -Infinity : lastReclaim + minGapMs));
  const due = () => Math.min(settledAt(), (lastReclaim ?? created) + everyMs);

  function arm(): void {
    if (closed) return;
    const at = due();
    if (timer !== undefined && armedFor <= at) return; // fires early enough: it re-arms itself if it is early
    if (timer !== undefined) clearTimer(timer);
    armedFor = at;
    timer = setTimer(fire, Math.max(0, at - now()));
  }

  function fire(): void {
    timer = undefined;
    armedFor = Infinity;
    if (closed) return;
    try {
      if (now() >= due()) reclaim(now() >= settledAt() ? 'settled' : 'periodic');
    } catch (err) {
      o.onError?.(err);
    } finally {
      arm();
    }
  }

  function reclaim(cause: ReclaimResult['cause']): ReclaimResult {
    const rssBefore = rss();
    const t0 = performance.now();
    const v8 = o.addon.lowMemory();
    const trimmed = o.addon.mallocTrim();
    const result: ReclaimResult = { rssBefore, rssAfter: rss(), ms: performance.now() - t0, v8, trimmed, cause };
    lastReclaim = now();
    lastActivity = undefined;
    o.onReclaim?.(result);
    return result;
  }

  arm();
  return {
    activity(): void {
      if (closed) return;
      const first = lastActivity === undefined;
      lastActivity = now();
      if (first) arm(); // later activity only moves the deadline: the armed timer fires, sees it, re-arms
    },
    reclaim(cause) {
      const result = reclaim(cause);
      if (timer !== undefined) clearTimer(timer);
      timer = undefined;
      armedFor = Infinity;
      arm();
      return result;
    },
    close(): void {
      closed = true;
      if (timer !== undefined) clearTimer(timer);
      timer = undefined;
    },
  };
}
