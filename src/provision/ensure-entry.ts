// Makes sure an agent has its durable facts in the registry: a port block and a token.
// Runs inside registry.update (under the lock), so two allocations cannot pick the same
// block. An existing entry keeps its block and token forever; only its port is recomputed
// from the current `ports` section (block index is what is stable).
import { FleetError } from '../errors.js';
import { blockFits, lastPortOfBlock, portOfBlock, takenBlocks, type PortsConfig } from '../plan/ports.js';
import type { CliAgentSpec, DesiredAgent, RegistryEntry, RegistryFile } from '../plan/types.js';
import { allocateBlock, type SkippedBlock } from './allocate-block.js';
import type { PortProbe } from './port-probe.js';
import { generateToken as realGenerateToken } from './token.js';

/** Inputs of ensureEntry (side effects injectable). */
export interface EnsureEntryOptions {
  ports: PortsConfig;
  /** ISO time of creation (the daemon passes its clock). */
  now: () => Date;
  isPortFree?: PortProbe;
  generateToken?: () => string;
  /** For a new CLI agent: what `fleetctl add agent` was given (kept in the entry). */
  spec?: CliAgentSpec;
  /**
   * The blocks the registry's entries hold, when the caller keeps that set (a plan that adds
   * many agents in a row: reading it from the registry for each was O(agents) per agent); the
   * new agent's block is added to it. Default: read from `registry`.
   */
  taken?: Set<number>;
}

/** Result of ensureEntry. */
export interface EnsuredEntry {
  entry: RegistryEntry;
  /** True when the entry was made now. */
  created: boolean;
  /** Blocks passed over because their port was busy (log them). */
  skipped: SkippedBlock[];
}

/** Adds `desired` to `registry` (mutating it) with a new block and token, or returns its existing entry. */
export async function ensureEntry(registry: RegistryFile, desired: DesiredAgent, options: EnsureEntryOptions): Promise<EnsuredEntry> {
  const existing = registry.agents[desired.address];
  if (existing) {
    if (!blockFits(existing.block, options.ports)) {
      throw new FleetError(
        'PORTS_EXHAUSTED',
        `${desired.address} holds port block ${existing.block}, which ends at port ${lastPortOfBlock(existing.block, options.ports)}, above ports.max ${options.ports.max}. Raise ports.max in the manifest or remove agents`,
      );
    }
    existing.port = portOfBlock(existing.block, options.ports);
    return { entry: existing, created: false, skipped: [] };
  }
  const taken = options.taken ?? takenBlocks(Object.values(registry.agents));
  const allocated = await allocateBlock({
    address: desired.address,
    taken,
    ports: options.ports,
    ...(options.isPortFree ? { isPortFree: options.isPortFree } : {}),
  });
  const entry: RegistryEntry = {
    fleet: desired.fleet,
    agent: desired.agent,
    source: desired.source,
    block: allocated.block,
    port: allocated.port,
    token: (options.generateToken ?? realGenerateToken)(),
    desired: 'running',
    createdAt: options.now().toISOString(),
  };
  if (desired.source === 'cli') entry.spec = options.spec ?? { config: {}, env: {} };
  // An agent called from its first day gets its hooks token with its block (see hooks-token.ts for later ones).
  if (desired.federation?.callable) {
    entry.hooksToken = (options.generateToken ?? realGenerateToken)();
    entry.hooksCallers = [...desired.federation.callers];
  }
  registry.agents[desired.address] = entry;
  options.taken?.add(entry.block);
  return { entry, created: true, skipped: allocated.skipped };
}
