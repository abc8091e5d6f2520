// The federation secrets an agent's output may contain: its own hooks token (in its
// openclaw.json) and the hooks tokens of the agents it may call (in its address book).
// The log writers add these to the gateway token in their redaction set.
import { federationGraph } from './federation.js';
import type { Manifest } from '../manifest/schema.js';
import type { RegistryFile } from './types.js';

/** Hooks tokens to redact from the captured output of `address` (deduplicated, never its gateway token). */
export function federationSecrets(registry: RegistryFile, manifest: Pick<Manifest, 'fleets' | 'knowledge'>, address: string): string[] {
  const out = new Set<string>();
  const own = Object.hasOwn(registry.agents, address) ? registry.agents[address]!.hooksToken : undefined;
  if (own) out.add(own);
  for (const callee of federationGraph(manifest).nodes[address]?.calls ?? []) {
    const token = Object.hasOwn(registry.agents, callee) ? registry.agents[callee]!.hooksToken : undefined;
    if (token) out.add(token);
  }
  return [...out];
}
