// The /proc-reading dependencies of every runner of one fleetd, bound to its one shared
// ProcTable: what a probe, an exit or a stop reads of /proc is shared with every other
// runner that can use the same scan, instead of each walking the whole process table.
import { AGENT_MARKER_ENV, countLeftovers, trackTree } from './proc.js';
import type { ProcTable } from './proc-table.js';
import type { RunnerDeps } from './runner-deps.js';
import { stopTree } from './stop-tree.js';

/** How old a scan the runners accept (ms). */
export interface SharedProcOptions {
  // A probe only keeps the list of descendants current (for after a re-parenting): a scan
  // half a probe interval old misses nothing a scan per probe would have caught in time.
  /** For the descendant list a probe refreshes (read per call: the manifest's probe interval may change). */
  trackMaxAgeMs: () => number;
}

/** trackTree, countLeftovers, findMarked and stopTree of RunnerDeps on the shared table. */
export function sharedProcDeps(procs: ProcTable, options: SharedProcOptions): Pick<RunnerDeps, 'trackTree' | 'countLeftovers' | 'findMarked' | 'stopTree'> {
  return {
    trackTree: (pid, known) => trackTree(pid, known, procs.snapshot(procs.now() - options.trackMaxAgeMs())),
    // after an exit: a scan taken now, so the dead root and every survivor are seen as they are
    countLeftovers: (pid, known) => countLeftovers(pid, known, procs.snapshot()),
    // A search made after the stop was asked for (the runners' clock is Date.now; +1 ms for
    // its whole milliseconds), or after now (an exit): the strays it looks for may be only
    // a few ms old. Stops asked for together (stop --all) share one search.
    findMarked: (spec, since) => {
      const marker = spec.env[AGENT_MARKER_ENV];
      if (!marker) return [];
      const notBefore = since === undefined ? procs.now() : procs.now() - Math.max(0, Date.now() - since) + 1;
      return procs.marked(AGENT_MARKER_ENV, marker, notBefore);
    },
    stopTree: (target, stopOptions) => stopTree(target, { ...stopOptions, procs }),
  };
}
