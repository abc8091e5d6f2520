// Events from one agent's runner, derived from the runner's own `state` notifications
// (supervise/runner-types.ts RunnerEvents): every state change with its reason, every
// process exit (from `lastExit`), every restart (from `restarts`). Attached where the
// daemon creates runners, so the runner itself needs no knowledge of events.
import type { RunnerStatus } from '../supervise/types.js';
import type { EventBus } from './events.js';

/** What observeRunner needs of a runner. */
export interface ObservableRunner {
  status(): RunnerStatus;
  on(event: 'state', listener: (status: RunnerStatus) => void): unknown;
}

/** Publishes agent.state / agent.exit / agent.restart events for `runner`. */
export function observeRunner(runner: ObservableRunner, bus: Pick<EventBus, 'publish'>): void {
  let last: RunnerStatus | undefined = runner.status();
  let lastPid = last.pid;
  runner.on('state', (status) => {
    const address = status.address;
    if (status.lastExit && status.lastExit.at !== last?.lastExit?.at) {
      bus.publish({ type: 'agent.exit', address, pid: status.lastExit.pid ?? lastPid, code: status.lastExit.code, signal: status.lastExit.signal, runtimeMs: status.lastExit.runtimeMs });
    }
    // stopped -> running is adoption alone (plan/agent-states.ts): the count it brings is the
    // previous fleetd's, not a restart now (agent.adopted reports it)
    const adopted = last?.state === 'stopped' && status.state === 'running';
    if (status.restarts > (last?.restarts ?? 0) && !adopted) {
      bus.publish({ type: 'agent.restart', address, restarts: status.restarts, reason: status.reason });
    }
    if (status.state !== last?.state || status.reason !== last.reason) {
      bus.publish({ type: 'agent.state', address, from: last?.state ?? null, to: status.state, reason: status.reason });
    }
    // a new run begins: until it has a pid, an exit of it (a launch that failed) names none,
    // not the previous run's
    if (status.state === 'starting' && last?.state !== 'starting') lastPid = null;
    if (status.pid !== null) lastPid = status.pid;
    last = status;
  });
}
