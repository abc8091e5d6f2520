// The one-line fleet summary systemd shows (`systemctl status fleetd`, STATUS=): agents by
// state, and the rollout in progress. Pure.
import type { RolloutRecord } from '../protocol/rollout.js';
import { isActive, rolloutProgress } from '../plan/rollout.js';
import type { AgentState } from '../supervise/types.js';

/** Order of states in the summary (every state of AGENT_STATES, the healthy ones first). */
const ORDER: readonly AgentState[] = ['running', 'reconfiguring', 'starting', 'backoff', 'stopping', 'failed', 'stopped'] satisfies readonly AgentState[];

/** "3 agents: 2 running, 1 failed; rollout 20261201T0300-ab12 to 2026.9.6: 1/3 done". */
export function fleetStatusLine(agents: ReadonlyArray<{ state: AgentState }>, rollout: RolloutRecord | null): string {
  const counts = new Map<AgentState, number>();
  for (const a of agents) counts.set(a.state, (counts.get(a.state) ?? 0) + 1);
  const parts = ORDER.filter((s) => counts.has(s)).map((s) => `${counts.get(s)} ${s}`);
  let line = `${agents.length} agent${agents.length === 1 ? '' : 's'}${parts.length ? `: ${parts.join(', ')}` : ''}`;
  if (rollout && isActive(rollout)) {
    const p = rolloutProgress(rollout);
    line += `; rollout ${rollout.id} to ${rollout.targets.join(', ')}: ${rollout.state === 'installing' ? 'installing' : `${p.done}/${p.total} done`}`;
  }
  return line;
}
