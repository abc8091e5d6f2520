// The /proc-reading dependencies of every runner of one fleetd, bound to its one shared
// ProcTable: what a probe, an exit or a stop reads of /proc is shared with every other
// runner that can use the same scan, instead of each walking the whole process table.
import { countLeftovers, trackTree } from './proc.js';
import type { ProcTable } from './proc-table.js';
import type { RunnerDeps } from './runner-deps.js';
import { stopTree } from './stop-tree.js';

/** Environment variable that marks every process of one agent (its unique config path). */
export const AGENT_MARKER = 'OPENCLAW_CONFIG_PATH';

/** How old a scan the runners accept (ms). */
export interface SharedProcOptions {
  // A probe only keeps the list of descendants current (for after a re-parenting): a scan
  // half a probe interval old misses nothing a scan per probe would have caught in time.
  /** For the descendant list a probe refreshes (read per call: the manifest's probe interval may change). */
  trackMaxAgeMs: () => number;
  /**
   * For processes found by the agent's environment marker at a stop or an exit (default
   * 1000): stops of many agents at once then share one read of every environment. The tree
   * itself is walked afresh by stopTree; this only adds strays re-parented earlier.
   */
  markerMaxAgeMs?: number;
}

/** trackTree, countLeftovers, findMarked and stopTree of RunnerDeps on the shared table. */
export function sharedProcDeps(procs: ProcTable, options: SharedProcOptions): Pick<RunnerDeps, 'trackTree' | 'countLeftovers' | 'findMarked' | 'stopTree'> {
  const markerMaxAgeMs = options.markerMaxAgeMs ?? 1000;
  return {
    trackTree: (pid, known) => trackTree(pid, known, procs.snapshot(procs.now() - options.trackMaxAgeMs())),
    // after an exit: a scan taken now, so the dead root and every survivor are seen as they are
    countLeftovers: (pid, known) => countLeftovers(pid, known, procs.snapshot()),
    findMarked: (spec) => {
      const marker = spec.env[AGENT_MARKER];
      return marker ? procs.marked(AGENT_MARKER, marker, procs.now() - markerMaxAgeMs) : [];
    },
    stopTree: (target, stopOptions) => stopTree(target, { ...stopOptions, procs }),
  };
}
