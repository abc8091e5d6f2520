// The contract between the daemon and one agent's runner: what to launch, and what the
// runner reports back. The state machine itself is documented in states.ts.
import type { AgentAddress } from '../manifest/ids.js';
import type { ManifestInput } from '../manifest/schema.js';
import type { RecordedProcess } from '../plan/types.js';
import type { AgentCgroup } from '../isolation/cgroup-agent.js';

/** Agent states: one list, in plan/agent-states.ts (with the diagram). */
export type { AgentState } from '../plan/agent-states.js';
import type { AgentState } from '../plan/agent-states.js';

/** Everything a runner needs to launch and watch one gateway. */
export interface LaunchSpec {
  address: AgentAddress;
  /** Full argv after the cgroup join (setpriv, KSM prefixes included), `--port <port>` already appended. argv[0] is resolved through env.PATH. */
  argv: string[];
  /** cgroup.procs files the gateway's process joins before it executes anything (the shim in its child; spawnProcess through the `/bin/sh` step); absent: none. */
  cgroupProcs?: string[];
  /** The agent's HOME. */
  cwd: string;
  /** The complete, clean environment of the gateway (nothing inherited). */
  env: Record<string, string>;
  port: number;
  /** The agent's gateway token: redacted from the captured log. */
  token: string;
  /** Every other secret its output may contain (hooks tokens, secret env values): redacted like the token. */
  secrets?: string[];
  /** `<stateDir>/agents/<fleet>/<agent>/gateway.log` (its folder is the shim's run dir). */
  logFile: string;
  /** The applied hash of this launch (config + env + launch): a shim records it, adoption compares it. */
  launchHash?: string;
  /** The agent's cgroup (stop = its members, OOM kills read from it) and memory limit text; absent on the /proc fallback. */
  isolation?: { cgroup?: AgentCgroup; memoryText?: string };
  logs: ManifestInput['logs'];
  stopTimeoutMs: number;
  health: ManifestInput['health'];
  restart: ManifestInput['restart'];
}

/** How a gateway process ended. */
export interface ExitInfo {
  code: number | null;
  signal: string | null;
  /** epoch ms */
  at: number;
  /** How long it ran, ms. */
  runtimeMs: number;
  /** The gateway process that ended (absent in records older than this field). */
  pid?: number | null;
}

/** Liveness and readiness as last probed. null = not probed yet / not running. */
export interface HealthInfo {
  live: boolean | null;
  ready: boolean | null;
  /** `failing` list from /readyz when not ready. */
  failing?: string[];
  /** What /startupz said last (started, starting, draining, absent, no-answer). */
  startup?: string;
  /** Set while the gateway's holder (its shim) does not answer: "its shim does not answer (since 2.1 s): ..." */
  holder?: string;
}

/** The reason of a runner that has not launched anything yet (status turns it into why: stopped by the operator, disabled). */
export const NOT_STARTED_REASON = 'not started yet';

/** Snapshot of one runner, as `fleetctl status` shows it. */
export interface RunnerStatus {
  address: AgentAddress;
  state: AgentState;
  /** Human-readable reason of the last state change. */
  reason: string;
  /** epoch ms of the last state change. */
  since: number;
  pid: number | null;
  port: number;
  /** epoch ms when the current process was spawned (uptime counts from here). */
  spawnedAt: number | null;
  /** epoch ms when the current process became `running` (healthy for counts from here). */
  runningSince: number | null;
  /** Restarts of the agent (crash, hang, operator), counted on from what a previous fleetd recalled (RunnerDeps.recalled). */
  restarts: number;
  /** The last exit of its gateway, this fleetd's or a previous one's. */
  lastExit: ExitInfo | null;
  health: HealthInfo;
  /** epoch ms of the next start attempt while in backoff. */
  nextStartAt: number | null;
}
