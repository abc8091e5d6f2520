// Doctor checks about one agent that need no other process: its state against what is
// wanted, and who holds its port (its own gateway tree, nobody, or a stranger).
import type { AgentView } from '../protocol/schemas.js';
import type { DoctorCheck } from '../protocol/doctor-schemas.js';
import { check } from './check.js';
import { isUp } from '../plan/agent-states.js';
import type { ListenerCheck } from '../supervise/listener-owner.js';

/** The agent's state against the operator's wish: failed or backoff while wanted is attention. */
export function checkState(view: AgentView): DoctorCheck {
  const a = view.address;
  const title = 'state';
  if (!view.enabled) return check('info', 'state', a, title, `disabled in the manifest (${view.state})`);
  if (view.desired === 'stopped') return check('info', 'state', a, title, `stopped by the operator (${view.state}: ${view.reason}); \`fleetctl start agent ${a}\` starts it`);
  switch (view.state) {
    case 'running':
    case 'reconfiguring':
      return check('ok', 'state', a, title, `${view.state}, pid ${view.pid}: ${view.reason}`);
    case 'starting':
    case 'stopping':
      return check('info', 'state', a, title, `${view.state}: ${view.reason}`);
    case 'failed':
      return check('fail', 'state', a, title, `failed: ${view.reason}`, `read \`fleetctl logs ${a}\`, fix the cause, then \`fleetctl restart agent ${a}\``);
    case 'backoff':
      return check('warn', 'state', a, title, `crashing and restarted with backoff (${view.restarts} restarts): ${view.reason}`, `read \`fleetctl logs ${a}\``);
    default:
      return check('warn', 'state', a, title, `${view.state} although wanted running: ${view.reason}`, `fleetctl start agent ${a}`);
  }
}

/** Who holds the agent's gateway port: while it runs its own tree must; while it does not, nobody may. */
export function checkPort(view: AgentView, treePids: readonly number[], listener: ListenerCheck): DoctorCheck {
  const a = view.address;
  const title = `port ${view.port}`;
  const owner = listener(view.port, treePids);
  const up = isUp(view.state);
  const find = `see who holds it: ss -ltnp 'sport = :${view.port}'`;
  if (owner.owner === 'stranger') {
    const detail = `held by pid ${owner.pid} (${owner.command}), which is not ${up ? `its gateway (pid ${view.pid})` : 'a process of this agent'}`;
    return check('fail', 'port', a, title, up ? `${detail}; requests for ${a} reach that process` : `${detail}; the agent cannot start while it does`, `stop pid ${owner.pid} (${find}), then \`fleetctl restart agent ${a}\``);
  }
  if (owner.owner === 'unknown') {
    return check('fail', 'port', a, title, `held by a process fleetd cannot see (socket owned by uid ${owner.socket.uid}), not by ${up ? `its gateway (pid ${view.pid})` : 'this agent'}`, `${find} as root, stop it, then \`fleetctl restart agent ${a}\``);
  }
  if (owner.owner === 'agent') return check('ok', 'port', a, title, `held by its gateway's tree (pid ${owner.pid})`);
  if (up) return check('fail', 'port', a, title, `its gateway (pid ${view.pid}) is ${view.state} but nothing listens on port ${view.port}`, `fleetctl restart agent ${a}`);
  return check('ok', 'port', a, title, `free for the agent (${view.state})`);
}
