// Memory given back once the fleet settles (issue 14: "RSS at most 60 MiB after idle and no
// growth over an hour"). A burst (a first start, `start --all` after `stop --all`, a reload that
// restarts many agents) grows V8's heap and malloc's arenas; both keep what they grew for a while.
// V8's own memory reducer shrinks the heap only when a later full collection arms it, which an
// idle fleetd (a probe every 10 s per agent) may not make for minutes: fleetd with 200 agents sat
// at 66.7-67.3 MiB for 8 minutes after a start-all-again before it fell to ~60. glibc returns
// freed pages inside its arenas only when asked (malloc_trim).
//
// So fleetd asks, through its memory addon (src/daemon/native/memory-reclaim.c), once a burst is
// over: every agent's start or stop has an outcome (`settled()`: plan/agent-states isSettled, so
// a gateway still booting, 4-9 s for a real OpenClaw, holds it back), no event has been published
// for RECLAIM_QUIET_MS (the burst's trailing work), and V8 has made no major collection for
// RECLAIM_V8_QUIET_MS. That last wait is for V8's own memory reducer: when a burst grew the heap
// enough it collects by itself 8 s after the last major collection, and again after its own. A
// reclaim before it was followed by the reducer's (at 200 agents: ours ~60 ms of CPU at 2 s, then
// its ~70 ms at 10-13 s); so fleetd waits for it, and when it has collected (a gc entry with
// NODE_PERFORMANCE_GC_FLAGS_ALL_EXTERNAL_MEMORY since the burst began) only trims malloc's arenas.
// When it has not (a burst that did not grow the heap past the reducer's threshold, e.g. a start
// all again: fleetd sat at 66.7-67.3 MiB for 8 minutes), fleetd calls V8's low-memory collection.
// At most one such reclaim per RECLAIM_MIN_GAP_MS, so an agent that flaps costs little; and at
// least one every RECLAIM_EVERY_MS (V8's heap regrows between collections; a fleet never quiet,
// e.g. a crash loop, is reclaimed too). At 200 agents V8's collection holds the thread 25-35 ms
// and costs ~60 ms of CPU in all (several collections; bytecode not in use is dropped and compiled
// again when next run); a trim alone under 1 ms: docs/overhead.md. Without the addon (no C
// compiler at build time) fleetd runs as before and says so once in its log; `fleetd start
// --no-memory-reclaim` turns it off.
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants as perfConstants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
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
 * ("missing: not built ..."), something else in its place, one node cannot load, or one
 * without the calls is `{ unavailable }`, the reason naming the path once.
 */
export function loadMemoryAddon(path: string = MEMORY_ADDON_PATH): MemoryAddonLoad {
  let addon: Partial<MemoryAddon>;
  try {
    addon = createRequire(import.meta.url)(path) as Partial<MemoryAddon>;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'MODULE_NOT_FOUND') {
      // require's word for a missing file, and for a directory in its place
      const kind = statSync(path, { throwIfNoEntry: false });
      return { unavailable: kind ? `${path} is not a file but a ${kind.isDirectory() ? 'directory' : 'special file'}` : `${path} is missing: not built (no C compiler at build time?)` };
    }
    // the loader's first line, without the path it names (dlopen's prefix, or a quoted one: not twice)
    const first = ((err as Error).message.split('\n')[0] ?? '').replace(`${path}: `, '').replace(`: '${path}'`, '');
    return { unavailable: `${path} does not load: ${first}` };
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
  /** What ran: V8's collection (false when this node lacks the call, or when V8's own memory reducer had collected already: `v8Reduced`), glibc's trim (true when it gave pages back). */
  v8: boolean;
  trimmed: boolean;
  /** V8's memory reducer had collected since the burst began (since the last reclaim, for a periodic one): fleetd asked V8 for nothing more, only trimmed malloc's arenas. */
  v8Reduced: boolean;
  /** Why it ran: the fleet went quiet after activity, or the periodic one while quiet. */
  cause: 'settled' | 'periodic';
}

/** No event for this long (ms), every agent settled, and a burst counts as over. */
export const RECLAIM_QUIET_MS = 2_000;
/**
 * And no major collection by V8 for this long (ms): V8's memory reducer runs its own collections
 * 8 s after the last one once a burst made its heap grow (v8/src/heap/memory-reducer.cc,
 * kLongDelayMs), and a reclaim before it would only be followed by the reducer's (measured: ~70
 * ms of CPU more at 200 agents). Once the reducer has collected, a reclaim trims malloc alone.
 */
export const RECLAIM_V8_QUIET_MS = 10_000;
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
  /**
   * Whether the fleet is at rest by its own account (fleetd: every agent's state isSettled). Asked
   * when the events have been quiet for quietMs; while false, asked again quietMs later (the
   * periodic reclaim does not wait for it). Default: always.
   */
  settled?: () => boolean;
  /** V8's major collections (default: none seen; fleetd passes watchV8Collections(); closed with the reclaimer). */
  v8Collections?: V8Collections;
  /** Default RECLAIM_QUIET_MS. */
  quietMs?: number;
  /** Default RECLAIM_V8_QUIET_MS. */
  v8QuietMs?: number;
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

/** V8's own major collections, on performance.now's clock (ms). */
export interface V8Collections {
  /** When the last one ended (undefined: none seen yet). */
  lastMajorAt(): number | undefined;
  /** When the last one V8's memory reducer made ended: memory-reducer.cc starts them with kGCCallbackFlagCollectAllExternalMemory, Node's gc entries' NODE_PERFORMANCE_GC_FLAGS_ALL_EXTERNAL_MEMORY. */
  lastReducerAt(): number | undefined;
  close(): void;
}

/**
 * Watches V8's major collections through a `gc` PerformanceObserver (Node's perf_hooks: one entry
 * per collection, delivered in batches after it; a few per minute in an idle fleetd). `close()`
 * stops it.
 */
export function watchV8Collections(): V8Collections {
  let lastMajor: number | undefined;
  let lastReducer: number | undefined;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const detail = (entry as PerformanceEntry & { detail?: { kind?: number; flags?: number } }).detail;
      if (detail?.kind !== perfConstants.NODE_PERFORMANCE_GC_MAJOR) continue;
      const end = entry.startTime + entry.duration;
      lastMajor = Math.max(lastMajor ?? end, end);
      if ((detail.flags ?? 0) & perfConstants.NODE_PERFORMANCE_GC_FLAGS_ALL_EXTERNAL_MEMORY) lastReducer = Math.max(lastReducer ?? end, end);
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return { lastMajorAt: () => lastMajor, lastReducerAt: () => lastReducer, close: () => observer.disconnect() };
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
 * Creates the reclaimer and arms its timer: a reclaim runs quietMs after the last activity once
 * `settled()` says so (else it looks again each quietMs), and v8QuietMs after V8's last major
 * collection, but not sooner than minGapMs after the reclaim before; and everyMs after the last
 * reclaim (or the
 * creation) whatever happens: a fleet that never goes quiet, e.g. an agent in a crash loop, is
 * still reclaimed. One unref'd timer at a time; activity only moves a deadline, the timer re-arms
 * itself when it fires early. V8's collection is skipped when its memory reducer collected since
 * the burst began (`v8Reduced`). close() also closes `v8Collections`. Throws a RangeError for a
 * bad duration (see MemoryReclaimerOptions).
 */
export function createMemoryReclaimer(o: MemoryReclaimerOptions): MemoryReclaimer {
  const quietMs = duration('quietMs', o.quietMs, RECLAIM_QUIET_MS);
  const v8QuietMs = duration('v8QuietMs', o.v8QuietMs, RECLAIM_V8_QUIET_MS);
  const v8 = o.v8Collections;
  const minGapMs = duration('minGapMs', o.minGapMs, RECLAIM_MIN_GAP_MS);
  const everyMs = duration('everyMs', o.everyMs, RECLAIM_EVERY_MS);
  const settled = o.settled ?? (() => true);
  const now = o.now ?? (() => performance.now());
  const rss = o.rss ?? (() => process.memoryUsage.rss());
  const setTimer = o.setTimer ?? ((fn: () => void, ms: number) => setTimeout(fn, ms).unref());
  const clearTimer = o.clearTimer ?? ((h: unknown) => clearTimeout(h as NodeJS.Timeout));
  const created = now();
  let lastReclaim: number | undefined;
  let lastActivity: number | undefined; // since the last reclaim
  let burstStart: number | undefined; // the first activity since the last reclaim
  let timer: unknown;
  let armedFor = Infinity;
  let closed = false;

  const settledAt = () =>
    lastActivity === undefined ? Infinity : Math.max(lastActivity + quietMs, lastReclaim === undefined ? -Infinity : lastReclaim + minGapMs, (v8?.lastMajorAt() ?? -Infinity) + v8QuietMs);
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
      const t = now();
      const quiet = t >= settledAt();
      if (quiet && settled()) reclaim('settled');
      else if (t >= (lastReclaim ?? created) + everyMs) reclaim('periodic');
      else if (quiet) lastActivity = t; // quiet, but an agent is still starting or stopping: look again quietMs later
    } catch (err) {
      // a failed attempt (settled() or the addon threw) waits as a reclaim would: never a timer that spins
      attempted();
      o.onError?.(err);
    } finally {
      arm();
    }
  }

  /** Marks a reclaim as made (also a failed one); the waits start again from now. */
  function attempted(): void {
    lastReclaim = now();
    lastActivity = undefined;
    burstStart = undefined;
  }

  function reclaim(cause: ReclaimResult['cause']): ReclaimResult {
    const since = cause === 'settled' ? (burstStart ?? lastReclaim ?? created) : (lastReclaim ?? created);
    const v8Reduced = (v8?.lastReducerAt() ?? -Infinity) >= since;
    const rssBefore = rss();
    const t0 = performance.now();
    const collected = v8Reduced ? false : o.addon.lowMemory();
    const trimmed = o.addon.mallocTrim();
    const result: ReclaimResult = { rssBefore, rssAfter: rss(), ms: performance.now() - t0, v8: collected, trimmed, v8Reduced, cause };
    attempted();
    o.onReclaim?.(result);
    return result;
  }

  arm();
  return {
    activity(): void {
      if (closed) return;
      const first = lastActivity === undefined;
      lastActivity = now();
      burstStart ??= lastActivity;
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
      v8?.close();
      if (timer !== undefined) clearTimer(timer);
      timer = undefined;
    },
  };
}
