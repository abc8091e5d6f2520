// The commands behind `fleetctl runtime ...`: list installed OpenClaw versions with the
// agents pinned to each, install one (progress streamed), remove one no agent uses, prune
// every unused one. Removal runs while no reload can re-pin an agent meanwhile.
import { FleetError } from '../errors.js';
import { listRuntimes, pruneRuntimes, removeRuntime } from '../runtime/index.js';
import type { ProgressEvent, Runtime } from '../runtime/types.js';
import type { Fleet } from './fleet.js';
import type { Logger } from './logger.js';
import type { InstallRuntime } from './runtime-cache.js';

/** One installed version as `runtime list` shows it. */
export interface RuntimeListing {
  version: string;
  dir: string;
  nodeVersion: string;
  installedAt: string | null;
  usedBy: string[];
}

/** Creates the runtime commands of one fleetd. */
export function createRuntimeCommands(fleet: Fleet, installRuntime: InstallRuntime, log: Logger) {
  return {
    /** Installed versions, with the agents pinned to each. */
    async list(): Promise<RuntimeListing[]> {
      const used = fleet.runtimeUsage();
      const installed = await listRuntimes(fleet.manifest.runtimesDir);
      return installed.map((r) => ({ version: r.version, dir: r.dir, nodeVersion: r.nodeVersion, installedAt: r.installedAt ?? null, usedBy: used.get(r.version) ?? [] }));
    },
    /** Installs (or reuses) a version, reporting progress. */
    install(version: string, onProgress: (event: ProgressEvent) => void): Promise<Runtime> {
      return installRuntime(version, onProgress);
    },
    /** Removes one version; REFUSED while an agent is pinned to it. */
    remove(version: string): Promise<string> {
      return fleet.exclusive(async () => {
        const users = fleet.runtimeUsage().get(version);
        if (users?.length) throw new FleetError('REFUSED', `openclaw ${version} is used by ${users.join(', ')}; move them to another version and reload first`);
        await removeRuntime(fleet.manifest.runtimesDir, version);
        log.info({ runtime: version }, 'runtime removed');
        return version;
      });
    },
    /** Removes every version no agent is pinned to. */
    prune(): Promise<{ removed: string[]; kept: string[] }> {
      return fleet.exclusive(async () => {
        const used = fleet.runtimeUsage();
        const removed = await pruneRuntimes(fleet.manifest.runtimesDir, new Set(used.keys()));
        return { removed, kept: [...used.keys()].sort() };
      });
    },
  };
}

/** The object createRuntimeCommands returns. */
export type RuntimeCommands = ReturnType<typeof createRuntimeCommands>;
