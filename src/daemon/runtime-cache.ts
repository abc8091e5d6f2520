// Installs each OpenClaw version once per fleetd, however many agents (and operators with
// `fleetctl runtime install`) wait for it: one install in flight per version, and every
// waiter hears its progress. Shared only while in flight: afterwards ensureRuntime checks
// the disk itself (cheap), so a pruned or removed version is installed again instead of
// being launched from nothing.
import type { Manifest } from '../manifest/schema.js';
import { ensureRuntime as realEnsureRuntime, type EnsureRuntimeOptions } from '../runtime/index.js';
import type { ProgressEvent, Runtime } from '../runtime/types.js';
import type { Logger } from './logger.js';

/** Installs (or reuses) `version`, reporting progress to `onProgress`; rejects as ensureRuntime does. */
export type InstallRuntime = (version: string, onProgress?: (event: ProgressEvent) => void) => Promise<Runtime>;

/** Creates the cache over the runtimes folder of the current manifest. */
export function createRuntimeCache(manifest: () => Manifest, log: Logger, ensureRuntime: (o: EnsureRuntimeOptions) => Promise<Runtime> = realEnsureRuntime): InstallRuntime {
  const inflight = new Map<string, { done: Promise<Runtime>; listeners: Set<(e: ProgressEvent) => void> }>();
  return (version, onProgress) => {
    let job = inflight.get(version);
    if (!job) {
      const listeners = new Set<(e: ProgressEvent) => void>();
      const done = ensureRuntime({
        runtimesDir: manifest().runtimesDir,
        version,
        onProgress: (e) => {
          log.info({ runtime: version, phase: e.phase }, e.message);
          for (const listener of listeners) listener(e);
        },
      });
      const created = { done, listeners };
      job = created;
      inflight.set(version, created);
      void done.then(
        () => inflight.delete(version),
        () => inflight.delete(version),
      );
    }
    if (onProgress) {
      const { listeners } = job;
      listeners.add(onProgress);
      void job.done.then(
        () => listeners.delete(onProgress),
        () => listeners.delete(onProgress),
      );
    }
    return job.done;
  };
}
