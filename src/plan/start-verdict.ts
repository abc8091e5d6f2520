// When a start has succeeded, following OpenClaw's external-supervisor contract
// (docs/cli/gateway/restart-and-supervision.md): "Report success only after the new Gateway
// owns its listener and /startupz returns status: started; monitor /readyz separately;
// /healthz proves liveness only" (issue 9 item 3). Pure: the probe round and the listener
// check come in, a verdict with the reason people see goes out. The runner (supervise/)
// calls this after each probe while `starting`, and may while `running`.
import type { ListenerOwner } from '../supervise/listener-owner.js';
import type { ProbeResult } from '../supervise/probe.js';

/** What one probe round says about a start. */
export type StartVerdict =
  /** Ours, and started: the start succeeded (readiness is reported apart). */
  | { state: 'started'; reason: string }
  /** Not yet: nothing listens yet, or ours listens but startup has not settled. */
  | { state: 'starting'; reason: string }
  /** The port is held by a process outside the agent: never `running`, whatever answers there. */
  | { state: 'foreign'; reason: string };

/** The reason text for a listener that is not the agent's ("port 20100 is held by pid 4242 (python3)"); undefined for agent/none. */
export function describeListener(result: ListenerOwner, port: number): string | undefined {
  if (result.owner === 'stranger') return `port ${port} is held by pid ${result.pid} (${result.command}), not by this agent's gateway`;
  if (result.owner === 'unknown') {
    return `port ${port} is held (listening on ${result.socket.address}) by a process fleetd cannot see, of uid ${result.socket.uid}, not by this agent's gateway`;
  }
  return undefined;
}

/** Judges one probe round of a starting gateway on `port` (see the file comment). */
export function judgeStart(input: { probe: ProbeResult; listener: ListenerOwner; port: number }): StartVerdict {
  const { probe, listener, port } = input;
  if (listener.owner === 'stranger' || listener.owner === 'unknown') return { state: 'foreign', reason: describeListener(listener, port)! };
  if (listener.owner === 'none') return { state: 'starting', reason: `nothing listens on port ${port} yet` };
  const startup = probe.startup;
  const by = `pid ${listener.pid} listens on port ${port}`;
  if (startup?.state === 'started') return { state: 'started', reason: `${by}; ${startup.detail}` };
  // A gateway without /startupz (not OpenClaw, or an older one): liveness is all there is.
  if (startup?.state === 'absent' || startup === undefined) {
    return probe.live ? { state: 'started', reason: `${by} and /healthz answers (${startup ? 'no /startupz' : '/startupz not asked'})` } : { state: 'starting', reason: `${by}; /healthz: ${probe.error ?? 'not live'}` };
  }
  return { state: 'starting', reason: `${by}; ${startup.detail}` };
}
