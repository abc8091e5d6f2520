// Shapes shared by the runtime installer, the daemon (which launches gateways from a
// Runtime) and `fleetctl runtime ...` (which prints progress and lists).

/** One installed OpenClaw version, ready to launch. */
export interface Runtime {
  /** The OpenClaw version, exact (2026.9.6). */
  version: string;
  /** Runtime key: the version, plus `+node-<v>` when the manifest pins the Node (runtime-key.ts). */
  key: string;
  /** `<runtimesDir>/openclaw-<key>`. */
  dir: string;
  /** Absolute path of the node binary to run the gateway with. */
  node: string;
  /** Absolute path of OpenClaw's bin entry: `<dir>/node_modules/openclaw/openclaw.mjs`. */
  entry: string;
  /** Version of `node`, without the leading v (26.10.0). */
  nodeVersion: string;
}

/** What `fleetctl runtime list` shows for one complete runtime. */
export interface RuntimeInfo {
  /** Runtime key (what `runtime remove` takes): `2026.9.6` or `2026.9.6+node-24.21.0`. */
  version: string;
  /** The OpenClaw version alone. */
  openclaw: string;
  dir: string;
  nodeVersion: string;
  /** Why this Node (pinned, LTS rule, fallback), when the marker recorded it. */
  nodeReason?: string;
  /** Apparent size of the install, measured once when it was installed. */
  sizeBytes?: number;
  /** ISO time of the install. */
  installedAt: string;
}

/** Install phases, in order; `done` also ends a reuse. */
export type ProgressPhase = 'resolving' | 'downloading' | 'verifying' | 'done';

/** One progress line for people: `resolving openclaw@2026.9.6`, `done in 41 s`. */
export interface ProgressEvent {
  phase: ProgressPhase;
  message: string;
  /** ms since ensureRuntime was called. */
  elapsedMs: number;
}

/** One npm invocation: argv after `npm`, working directory and the complete environment. */
export interface NpmCall {
  args: string[];
  cwd: string;
  env: Record<string, string>;
}

/** Runs npm and resolves with its stdout; rejects with FleetError RUNTIME_FAILED. Injectable so tests can use a fake npm. */
export type NpmRunner = (call: NpmCall) => Promise<string>;

/** The Node that runs fleetd itself; used for OpenClaw when it satisfies `engines.node`. */
export interface SystemNode {
  version: string;
  path: string;
}
