// What a gateway was started with, as a short comparable string. The hash has one part per
// input (config, env, launch) so a reload can say WHY it restarts an agent, not only that
// something changed. Canonical JSON (sorted keys) keeps it independent of manifest order.
import { createHash } from 'node:crypto';
import type { GatewayLaunch } from '../manifest/schema.js';
import type { EnvValue } from '../secrets/refs.js';

/** The parts of an applied hash, in order. */
export const HASH_PARTS = ['config', 'env', 'launch'] as const;

/** One part of an applied hash. */
export type HashPart = (typeof HASH_PARTS)[number];

/**
 * What the hash covers: the openclaw.json fleetd wants (manifest + managed keys, never the
 * keys OpenClaw wrote itself, or its own edits would restart it), the whole gateway env with
 * secret REFERENCES in place of their values (a new reference restarts the agent at reload;
 * a rotated file does not: it is read at the next start) and the launch.
 */
export interface HashInput {
  config: Record<string, unknown>;
  env: Readonly<Record<string, EnvValue>>;
  /** The launch, with the isolation settings that change it (memory limit, user, KSM) when any is set. */
  launch: GatewayLaunch | (GatewayLaunch & { isolation: unknown });
}

/** Human reason for each changed part (shown by reload and status). */
export const CHANGE_REASONS: Record<HashPart, string> = {
  config: 'openclaw.json changed',
  env: 'environment changed',
  launch: 'gateway launch changed (command, runtime, user, memory limit or KSM)',
};

/** JSON with object keys sorted at every level: equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item === undefined ? null : item)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** sha256 of the canonical JSON of `value`, hex. */
export function stableHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

/** The appliedHash of an agent: `<config>.<env>.<launch>`, 32 hex chars each. */
export function appliedHash(input: HashInput): string {
  return [stableHash(input.config), stableHash(input.env), stableHash(input.launch)].map((h) => h.slice(0, 32)).join('.');
}

/** Parts that differ between two applied hashes; all of them when either is malformed. */
export function changedParts(before: string, after: string): HashPart[] {
  const a = before.split('.');
  const b = after.split('.');
  if (a.length !== HASH_PARTS.length || b.length !== HASH_PARTS.length) return before === after ? [] : [...HASH_PARTS];
  return HASH_PARTS.filter((_, i) => a[i] !== b[i]);
}

/** Reason text for a set of changed parts ("openclaw.json changed, environment changed"). */
export function changeReason(parts: readonly HashPart[]): string {
  return parts.map((part) => CHANGE_REASONS[part]).join(', ');
}
