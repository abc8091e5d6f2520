// What every request handler may use: the fleet's command API, the runtime commands, the
// daemon's own facts and the manifest re-reader. Handlers parse, call, answer; they never
// reach into an agent.
import type { Manifest } from '../manifest/schema.js';
import type { DaemonView } from '../protocol/schemas.js';
import type { UpgradeController } from '../upgrade/controller.js';
import type { EventBus } from './events.js';
import type { Fleet } from './fleet.js';
import type { Logger } from './logger.js';
import type { RuntimeCommands } from './runtime-commands.js';

/** Shared by all handlers of one fleetd. */
export interface DaemonContext {
  fleet: Fleet;
  runtimes: RuntimeCommands;
  logger: Logger;
  /** fleetd's own facts for `status` (pid, version, paths, memory, registry lag). */
  daemonView: () => DaemonView;
  /** Re-reads and validates the manifest file (same path and command-line overrides as at start). */
  readManifest: () => Promise<Manifest>;
  /**
   * Reads what the next fleetd's start reads, as it will (the manifest file; registry.json of the
   * manifest's state dir): resolves when a successor would start and adopt the running gateways,
   * else rejects with their error (MANIFEST_INVALID, MANIFEST_NOT_FOUND, REGISTRY_INVALID), or
   * REFUSED when the manifest's stateDir changed or registry.json is missing while agents are
   * held. A restart is refused on it while this fleetd still runs, rather than handing over to a
   * successor that exits at once or starts every agent anew.
   */
  checkSuccessor?: () => Promise<void>;
  /** Ends fleetd after the answer: `restart` leaves every gateway running for the next fleetd, `stop` stops them (like SIGTERM). */
  leave?: (how: 'restart' | 'stop') => void;
  /** fleetd's own log lines dropped so far (stdout closed or not drained): status's `daemon.logDropped`. */
  logDropped?: () => number;
  /** Recent events and live subscribers (GET /v1/events). */
  events: EventBus;
  /** Pins of `fleetctl upgrade` and rollouts (POST/GET /v1/upgrade). */
  upgrades: UpgradeController;
}
