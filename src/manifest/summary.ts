// Counts for `fleetd validate` ("ok: 2 fleets, 5 agents") and status headers.
import type { ManifestInput } from './schema.js';

/** Size of a manifest. */
export interface ManifestSummary {
  fleets: number;
  agents: number;
  enabledAgents: number;
}

/** Counts fleets, agents and enabled agents of a validated manifest. */
export function summarizeManifest(m: Pick<ManifestInput, 'fleets'>): ManifestSummary {
  const fleets = Object.values(m.fleets);
  const agents = fleets.flatMap((fleet) => Object.values(fleet.agents));
  return { fleets: fleets.length, agents: agents.length, enabledAgents: agents.filter((a) => a.enabled).length };
}

/** One line for people: "3 fleets, 7 agents (5 enabled)". */
export function formatSummary(s: ManifestSummary): string {
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const enabled = s.enabledAgents === s.agents ? '' : ` (${s.enabledAgents} enabled)`;
  return `${plural(s.fleets, 'fleet')}, ${plural(s.agents, 'agent')}${enabled}`;
}
