// Memory given back once the fleet settles (issue 14: "RSS at most 60 MiB after idle and no
// growth over an hour"). A burst (a first start, `start --all` after `stop --all`, a reload that
// restarts many agents) grows V8's heap and malloc's arenas; both keep what they grew for a while.
// V8's own memory reducer shrinks the heap only when a later full collection arms it, which an
// idle fleetd (a probe every 10 s per agent) may not make for minutes: fleetd with 200 agents sat
// at 66.7-67.3 MiB for 8 minutes after a start-all-again before it fell to ~60. glibc returns
// freed pages inside its arenas only when asked (malloc_trim).
//
// So fleetd asks, through its memory addon (src/daemon/native/memory-reclaim.c): once no event
// has been published for QUIET_MS (the burst is over), and at least every EVERY_MS while quiet
// (V8's heap regrows between collections). Each reclaim is one synchronous call of ~25-35 ms at
// 200 agents (V8 collects all it can and compacts), rare enough to cost nothing measurable
// (docs/overhead.md). Without the addon (no C compiler at build time) fleetd runs as before and
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
    return { unavailable: `${path} does not load: ${(err as Error).message.split('\n')[0]}` };
  }
  for (const name of ['lowMemory', 'lowMemoryAvailable', 'mallocTrim'] as const) {
    if (typeof addon[name] !== 'function') return { unavailable: `${path} has no ${name}(): not fleetd's memory addon, or an older one` };
  }
  return { addon: addon as MemoryAddon };
}

/** One reclaim's outcome: resident set before and after (bytes), how long it held the thread (ms). */
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
/** At least one reclaim this often (ms), quiet or not. */
export const RECLAIM_EVERY_MS = 5 * 60_000;

/** Dependencies of createMemoryReclaimer (real timers, clock and RSS by default). */
export interface MemoryReclaimerOptions {
  addon: MemoryAddon;
  /** Called after each reclaim (fleetd logs it at debug). */
  onReclaim?: (result: ReclaimResult) => void;
  quietMs?: number;
  everyMs?: number;
  now?: () => number;
  rss?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

/** The reclaimer: `activity()` at each event (cheap: a number set), `close()` at shutdown. */
export interface MemoryReclaimer {
  activity(): void;
  /** Reclaims now (what the timer does); returns what it did. */
  reclaim(cause: ReclaimResult['cause']): ReclaimResult;
  close(): void;
}

/**
 * Creates the reclaimer and arms its timer: a reclaim runs QUIET_MS after the last activity,
 * and EVERY_MS after the last reclaim whatever happens (a fleet that never goes quiet, e.g. an
 * agent in a crash loop, is still reclaimed). One unref'd timer at a time; activity only moves a
 * deadline, the timer re-arms itself when it fires early.
 */
export function createMemoryReclaimer(o: MemoryReclaimerOptions): MemoryReclaimer {
  const quietMs = o.quietMs ?? RECLAIM_QUIET_MS;
  const everyMs = o.everyMs ?? RECLAIM_EVERY_MS;
  const now = o.now ?? (() => performance.now());
  const rss = o.rss ?? (() => process.memoryUsage.rss());
  const setTimer = o.setTimer ?? ((fn: () => void, ms: number) => setTimeout(fn, ms).unref());
  const clearTimer = o.clearTimer ?? ((h: unknown) => clearTimeout(h as NodeJS.Timeout));
  let lastReclaim = now();
  let lastActivity: number | undefined; // since the last reclaim
  let timer: unknown;
  let armedFor = Infinity;
  let closed = false;

  const due = () => Math.min(lastActivity === undefined ? Infinity : lastActivity + quietMs, lastReclaim + everyMs);

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
    if (now() >= due()) reclaim(lastActivity !== undefined && now() >= lastActivity + quietMs ? 'settled' : 'periodic');
    arm();
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
