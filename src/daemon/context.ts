// What every request handler may use: the fleet, the daemon's facts, and the side effects
// that are not the fleet's (manifest re-reading, runtime installs).
import type { Manifest } from '../manifest/schema.js';
import type { ProgressEvent, Runtime } from '../runtime/types.js';
import type { UpgradeController } from '../upgrade/controller.js';
import type { EventBus } from './events.js';
import type { Fleet } from './fleet.js';
import type { Logger } from './logger.js';

/** Shared by all handlers of one fleetd. */
export interface DaemonContext {
  fleet: Fleet;
  logger: Logger;
  startedAt: number;
  now: () => number;
  /** Re-reads and validates the manifest file (same path and CLI overrides as at start). */
  readManifest: () => Promise<Manifest>;
  /** Installs (or reuses) an OpenClaw version, reporting progress. */
  installRuntime: (version: string, onProgress?: (event: ProgressEvent) => void) => Promise<Runtime>;
  /** Recent events and live subscribers (GET /v1/events). */
  events: EventBus;
  /** Pins of `fleetctl upgrade` and rollouts (POST/GET /v1/upgrade). */
  upgrades: UpgradeController;
}
