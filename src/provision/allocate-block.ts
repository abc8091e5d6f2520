// Gives an agent the lowest free port block whose gateway port nobody else is listening on.
// The arithmetic is plan/ports.ts; this file adds the one side effect, the port probe.
import { FleetError } from '../errors.js';
import { blockCount, candidateBlocks, portOfBlock, type PortsConfig } from '../plan/ports.js';
import { isPortFree as realProbe, type PortProbe } from './port-probe.js';

/** A block passed over because its gateway port was in use (the daemon logs these). */
export interface SkippedBlock {
  block: number;
  port: number;
  reason: string;
}

/** Result of allocateBlock. */
export interface AllocatedBlock {
  block: number;
  port: number;
  skipped: SkippedBlock[];
}

/** Inputs of allocateBlock. */
export interface AllocateBlockInput {
  /** The agent being given a block (named in errors). */
  address: string;
  /** Blocks already held by registry entries. */
  taken: ReadonlySet<number>;
  ports: PortsConfig;
  /** Probe of a gateway port; default binds 127.0.0.1 and ::1. */
  isPortFree?: PortProbe;
}

/** Picks the lowest free block with a free gateway port; PORTS_EXHAUSTED when none is left below ports.max. */
export async function allocateBlock(input: AllocateBlockInput): Promise<AllocatedBlock> {
  const probe = input.isPortFree ?? realProbe;
  const skipped: SkippedBlock[] = [];
  for (const block of candidateBlocks(input.taken, input.ports)) {
    const port = portOfBlock(block, input.ports);
    if (await probe(port)) return { block, port, skipped };
    skipped.push({ block, port, reason: `port ${port} is already in use by another process` });
  }
  const { base, blockSize, max } = input.ports;
  const busy = skipped.length > 0 ? `, ${skipped.length} skipped because their port was in use (${listPorts(skipped)})` : '';
  throw new FleetError(
    'PORTS_EXHAUSTED',
    `no free port block for ${input.address}: ${blockCount(input.ports)} blocks of ${blockSize} ports fit between ports.base ${base} and ports.max ${max}, ${input.taken.size} taken${busy}. Raise ports.max in the manifest or remove agents`,
    { details: { address: input.address, skipped } },
  );
}

/** First few skipped ports for a message ("20000, 20100, ... 3 more"). */
function listPorts(skipped: readonly SkippedBlock[]): string {
  const shown = skipped.slice(0, 8).map((s) => s.port).join(', ');
  return skipped.length > 8 ? `${shown}, ... ${skipped.length - 8} more` : shown;
}
