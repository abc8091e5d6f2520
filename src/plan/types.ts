// Shared shapes of planning: what is wanted (from manifest + registry), what is recorded
// (the registry), and what to do about the difference. Pure data, no behaviour.
import type { AgentAddress } from '../manifest/ids.js';
import type { GatewayLaunch } from '../manifest/schema.js';
import type { EnvValue } from '../secrets/refs.js';

/** Where an agent was declared: the manifest, or `fleetctl add agent`. */
export type AgentSource = 'manifest' | 'cli';

/** What the operator wants an agent to be doing (persisted; `fleetctl stop` sets stopped). */
export type DesiredRun = 'running' | 'stopped';

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
}

/** What fleetd needs to find a gateway's processes again after its own crash. */
export interface RecordedProcess {
  pid: number;
  pgid: number;
  /** Start time of the pid in clock ticks since boot (field 22 of /proc/<pid>/stat). */
  startTime: string;
  /** ISO time of the spawn, for people. */
  spawnedAt: string;
}

/** Spec of an agent added with `fleetctl add agent` (kept in the registry: it has no manifest entry). */
export interface CliAgentSpec {
  config: Record<string, unknown>;
  env: Record<string, EnvValue>;
}

/** One registry entry: the durable facts about an agent. */
export interface RegistryEntry {
  fleet: string;
  agent: string;
  source: AgentSource;
  /** Index of its port block; port = base + block * blockSize. */
  block: number;
  port: number;
  /** 32 random bytes, hex. Never logged, never sent except by `fleetctl token`. */
  token: string;
  desired: DesiredRun;
  /** Present for source 'cli'. */
  spec?: CliAgentSpec;
  /** Present while fleetd believes a gateway of this agent may be alive. */
  process?: RecordedProcess;
  /** Hash of the effective openclaw.json + env last applied (detects config/env changes). */
  appliedHash?: string;
  createdAt: string;
}

/** registry.json, format version 1. */
export interface RegistryFile {
  version: 1;
  /** Keyed by address. */
  agents: Record<string, RegistryEntry>;
}

/** One step of a reconcile plan. */
export type PlanAction =
  | { kind: 'provision'; address: AgentAddress; reason: string }
  | { kind: 'start'; address: AgentAddress; reason: string }
  | { kind: 'stop'; address: AgentAddress; reason: string }
  | { kind: 'restart'; address: AgentAddress; reason: string }
  | { kind: 'free'; address: AgentAddress; reason: string };
