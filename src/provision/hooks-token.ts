// Hooks tokens over an agent's life: made when it is first called, kept while its callers
// stay the same or grow, rotated when a caller loses the right to call it (the removed
// caller has seen the old token), dropped when nobody calls it any more. Runs on the
// registry under its lock, BEFORE planning, so the new token is part of the applied hash.
import type { AgentAddress } from '../manifest/ids.js';
import type { Manifest } from '../manifest/schema.js';
import { federationGraph } from '../plan/federation.js';
import type { RegistryFile } from '../plan/types.js';
import { generateToken as realGenerateToken } from './token.js';

/** What ensureHooksTokens changed, per address (for the log; never the tokens themselves). */
export interface HooksTokenChanges {
  created: AgentAddress[];
  /** Rotated because these callers were removed. */
  rotated: { address: AgentAddress; removedCallers: string[] }[];
  /** Dropped: no agent calls it any more. */
  dropped: AgentAddress[];
}

/** Brings every registry entry's hooks token in line with who calls it under `manifest` (mutates `registry`). */
export function ensureHooksTokens(
  registry: RegistryFile,
  manifest: Pick<Manifest, 'fleets' | 'knowledge'>,
  generateToken: () => string = realGenerateToken,
): HooksTokenChanges {
  const graph = federationGraph(manifest);
  const changes: HooksTokenChanges = { created: [], rotated: [], dropped: [] };
  for (const [address, entry] of Object.entries(registry.agents) as [AgentAddress, RegistryFile['agents'][string]][]) {
    const callers = entry.source === 'manifest' ? (graph.nodes[address]?.callers ?? []) : [];
    if (callers.length === 0) {
      if (entry.hooksToken !== undefined) changes.dropped.push(address);
      delete entry.hooksToken;
      delete entry.hooksCallers;
      continue;
    }
    const fresh = () => {
      let token = generateToken();
      while (token === entry.token) token = generateToken();
      return token;
    };
    if (entry.hooksToken === undefined) {
      entry.hooksToken = fresh();
      changes.created.push(address);
    } else {
      // A registry from before hooksCallers existed: the token went to the callers it has now.
      const removed = (entry.hooksCallers ?? callers).filter((c) => !callers.includes(c as AgentAddress));
      if (removed.length > 0) {
        entry.hooksToken = fresh();
        changes.rotated.push({ address, removedCallers: removed });
      }
    }
    entry.hooksCallers = [...callers];
  }
  return changes;
}
