// The federation secrets an agent's output may contain: its own hooks token (in its
// openclaw.json) and the hooks tokens of the agents it may call (in its address book).
// The log writers add these to the gateway token in their redaction set.
//
// Only the agent's own `calls` are read (what federationGraph's node of it lists): building
// the whole graph for each agent made every launch O(agents), a first start of 200 agents
// O(N^2) (~110 ms of fleetd's main thread: once per Agent made, once per prepare).
import { ownEntry, parseAddress } from '../manifest/ids.js';
import type { Manifest } from '../manifest/schema.js';
import type { RegistryEntry } from './types.js';

/** Hooks tokens to redact from the captured output of `address` (deduplicated, never its gateway token). */
export function federationSecrets(entryOf: (address: string) => Readonly<RegistryEntry> | undefined, manifest: Pick<Manifest, 'fleets' | 'knowledge'>, address: string): string[] {
  const out = new Set<string>();
  const own = entryOf(address)?.hooksToken;
  if (own) out.add(own);
  for (const callee of declaredCalls(manifest, address)) {
    const token = entryOf(callee)?.hooksToken;
    if (token) out.add(token);
  }
  return [...out];
}

/** The `calls` of the manifest agent at `address` ([] for an agent the manifest does not declare). */
function declaredCalls(manifest: Pick<Manifest, 'fleets'>, address: string): readonly string[] {
  const at = parseAddress(address);
  return (at && ownEntry(ownEntry(manifest.fleets, at.fleet)?.agents, at.agent)?.calls) ?? [];
}
