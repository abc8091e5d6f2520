// Port block arithmetic (pure). Block i covers [base + i*blockSize, base + (i+1)*blockSize);
// its first port is the gateway port, the rest is headroom for the ports OpenClaw derives
// from it. A block fits when its LAST port is at or below ports.max.
import type { ManifestInput } from '../manifest/schema.js';

/** The `ports` section of a manifest. */
export type PortsConfig = ManifestInput['ports'];

/** Gateway port of block `block`. */
export function portOfBlock(block: number, ports: PortsConfig): number {
  return ports.base + block * ports.blockSize;
}

/** Last port (inclusive) of block `block`. */
export function lastPortOfBlock(block: number, ports: PortsConfig): number {
  return portOfBlock(block, ports) + ports.blockSize - 1;
}

/** True when block `block` lies entirely at or below ports.max. */
export function blockFits(block: number, ports: PortsConfig): boolean {
  return Number.isInteger(block) && block >= 0 && lastPortOfBlock(block, ports) <= ports.max;
}

/** How many blocks fit between ports.base and ports.max. */
export function blockCount(ports: PortsConfig): number {
  if (ports.blockSize <= 0) return 0;
  return Math.max(0, Math.floor((ports.max - ports.base + 1) / ports.blockSize));
}

/** Free blocks in ascending order, lowest first: the allocator takes the first one whose port is free. */
export function* candidateBlocks(taken: ReadonlySet<number>, ports: PortsConfig): Generator<number> {
  const count = blockCount(ports);
  for (let block = 0; block < count; block++) {
    if (!taken.has(block)) yield block;
  }
}

/** Block indices recorded in a registry's entries. */
export function takenBlocks(entries: Iterable<{ block: number }>): Set<number> {
  const taken = new Set<number>();
  for (const entry of entries) taken.add(entry.block);
  return taken;
}
