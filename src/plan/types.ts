// Shared shapes of planning: what is wanted (from manifest + registry), what is recorded
// (the registry), and what to do about the difference. Pure data, no behaviour.
import type { AgentAddress } from '../manifest/ids.js';
import type { GatewayLaunch } from '../manifest/schema.js';
import type { DesiredFederation } from './federation.js';
import type { EnvValue } from '../secrets/refs.js';

export type { AgentSource, CliAgentSpec, DesiredRun, RecordedProcess, RegistryEntry, RegistryFile } from './registry-schema.js';
import type { AgentSource } from './registry-schema.js';

/** What of an agent's isolation is part of its launch (and of its applied hash). */
export interface DesiredIsolation {
  memory?: string;
  user?: string;
  merge?: boolean;
}

/** One agent as the manifest + registry want it, before provisioning adds managed keys. */
export interface DesiredAgent {
  address: AgentAddress;
  fleet: string;
  agent: string;
  source: AgentSource;
  /** false for `enabled: false` in the manifest. */
  enabled: boolean;
  /** Merged openclaw.json fragment: defaults, fleet defaults, agent config (no managed keys). */
  config: Record<string, unknown>;
  /** Merged manifest env: gateway.env, defaults.env, fleet env, agent env (values may be secret references). */
  env: Record<string, EnvValue>;
  /** Where each env variable was declared, for messages (`<manifest>: fleets.acme.agents.korax.env.X`). */
  envOrigin?: Record<string, string>;
  /** How to launch its gateway. */
  launch: GatewayLaunch;
  /** The isolation settings that change its launch (memory limit: heap size; user; KSM); absent when none. */
  isolation?: DesiredIsolation;
  /** Its federation (hooks, knowledge) when it takes part in one; manifest agents only. */
  federation?: DesiredFederation;
}

/** One step of a reconcile plan. */
export type PlanAction =
  | { kind: 'provision'; address: AgentAddress; reason: string }
  | { kind: 'start'; address: AgentAddress; reason: string }
  | { kind: 'stop'; address: AgentAddress; reason: string }
  | { kind: 'restart'; address: AgentAddress; reason: string }
  /** Only openclaw.json changed: write it and let the running gateway apply it (falls back to a restart). */
  | { kind: 'reconfigure'; address: AgentAddress; reason: string }
  | { kind: 'free'; address: AgentAddress; reason: string };
