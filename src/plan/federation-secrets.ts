// The federation secrets an agent's output may contain: its own hooks token (in its
// openclaw.json) and the hooks tokens of the agents it may call (in its address book).
// The log writers add these to the gateway token in their redaction set.
//
// Only the agent's own `calls` are read (what federationGraph's node of it lists): building
// the whole graph for each agent made every launch O(agents), a first start of 200 agents
// O(N^2) (~110 ms of fleetd's main thread: once per Agent made, once per prepare).
import type { Manifest } from '../manifest/schema.js';
import type { RegistryFile } from './types.js';

/** Hooks tokens to redact from the captured output of `address` (deduplicated, never its gateway token). */
export function federationSecrets(registry: RegistryFile, manifest: Pick<Manifest, 'fleets' | 'knowledge'>, address: string): string[] {
  const out = new Set<string>();
  const own = Object.hasOwn(registry.agents, address) ? registry.agents[address]!.hooksToken : undefined;
  if (own) out.add(own);
  for (const callee of declaredCalls(manifest, address)) {
    const token = Object.hasOwn(registry.agents, callee) ? registry.agents[callee]!.hooksToken : undefined;
    if (token) out.add(token);
  }
  return [...out];
}

/** The `calls` of the manifest agent at `address` ([] for an agent the manifest does not declare). */
function declaredCalls(manifest: Pick<Manifest, 'fleets'>, address: string): readonly string[] {
  const slash = address.indexOf('/');
  const fleetId = address.slice(0, slash);
  const agentId = address.slice(slash + 1);
  if (slash < 0 || !Object.hasOwn(manifest.fleets, fleetId)) return [];
  const agents = manifest.fleets[fleetId]!.agents;
  return Object.hasOwn(agents, agentId) ? agents[agentId]!.calls : [];
}
