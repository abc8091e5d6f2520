// What the operate routes (exec, config, OpenClaw's log, backup, restore) need to know about
// one agent, gathered in one place from the fleet: its desired state, registry entry,
// paths, effective config/env (secret references unresolved), and its redaction set.
// Read-only: nothing here changes the fleet.
import { userInfo } from 'node:os';
import { FleetError } from '../errors.js';
import { ownEntry, toAddress } from '../manifest/ids.js';
import type { Manifest } from '../manifest/schema.js';
import type { DesiredAgent, RegistryEntry, RegistryFile } from '../plan/types.js';
import { federationSecrets } from '../plan/federation-secrets.js';
import { effectiveAgent, type EffectiveAgent } from '../provision/effective.js';
import { readSecret } from '../secrets/read.js';
import { agentSecrets } from '../secrets/redact.js';
import { lookupUser } from '../isolation/user-lookup.js';
import { agentUser, type UserChoice } from '../isolation/users.js';
import type { Fleet } from './fleet.js';

/** The user an agent's processes run as. */
export interface AgentUser {
  uid: number;
  gid: number;
  name: string;
}

/** One agent as the operate routes see it. */
export interface AgentFacts {
  address: string;
  manifest: Manifest;
  desired: DesiredAgent;
  entry: Readonly<RegistryEntry>;
  /** The whole registry (callees' hooks tokens are redacted too). */
  registry: Readonly<RegistryFile>;
  effective: EffectiveAgent;
  /** `<stateDir>/agents/<fleet>/<agent>` (fleetd's own files of the agent). */
  supervisorDir: string;
  /** fleetd's last-applied openclaw.json record. */
  appliedPath: string;
}

/** Looks an agent up; NOT_FOUND (naming `fleetctl status`) when fleetd does not know it. */
export function agentFacts(fleet: Fleet, fleetId: string, agentId: string): AgentFacts {
  const address = toAddress(fleetId, agentId);
  const { desired, entry } = fleet.describe(address);
  if (!entry) throw new FleetError('NOT_FOUND', `${address} has no port block or token yet (it is still being set up); try again, or see \`fleetctl status ${address}\``);
  const manifest = fleet.manifest;
  const effective = effectiveAgent({ stateDir: manifest.stateDir, desired, port: entry.port, token: entry.token, hooksToken: entry.hooksToken, blockSize: manifest.ports.blockSize, parentEnv: fleet.parentEnv });
  return {
    address,
    manifest,
    desired,
    entry,
    registry: fleet.registry(),
    effective,
    supervisorDir: effective.paths.supervisorDir,
    appliedPath: effective.paths.appliedConfig,
  };
}

/** Everything to redact for an agent: tokens and the CURRENT values of its secret files (best effort: unreadable ones are skipped). */
export async function redactionSetOf(facts: AgentFacts, parentEnv: Readonly<Record<string, string | undefined>>): Promise<string[]> {
  // federation: its own hooks token and its callees' (they are in its address book)
  const hooks = federationSecrets((address) => ownEntry(facts.registry.agents, address), facts.manifest, facts.address);
  const values: string[] = [];
  for (const [name, ref] of Object.entries(facts.effective.secretEnv)) {
    const value = await readSecret(name, ref, { address: facts.address, credentialsDir: parentEnv['CREDENTIALS_DIRECTORY'] }).catch(() => undefined);
    if (value) values.push(value);
  }
  return agentSecrets({ token: facts.entry.token, values: [...hooks, ...values] });
}

/**
 * The user an agent's processes run as: its manifest `user` (agent, else fleet level; looked
 * up like a launch does, so PROVISION_FAILED when the host has no such user), else fleetd's.
 */
export function agentUserOf(facts: Pick<AgentFacts, 'manifest' | 'desired'>, lookup: (choice: UserChoice) => AgentUser = lookupUser): AgentUser {
  const choice = agentUser(facts.manifest, facts.desired.fleet, facts.desired.agent);
  if (!choice) return fleetdUser();
  const user = lookup(choice);
  return { uid: user.uid, gid: user.gid, name: user.name };
}

/** The user fleetd runs as (an agent without a user of its own runs as that user too). */
export function fleetdUser(): AgentUser {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  let name = String(uid);
  try {
    name = userInfo().username;
  } catch {
    // no passwd entry for this uid (containers): the number is the name
  }
  return { uid, gid, name };
}
