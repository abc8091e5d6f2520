// Where the federation meets the fleet (see the README section "Federation"): hooks tokens
// brought in line with who calls whom BEFORE a plan (so a new, rotated or dropped token is
// part of the callee's applied hash and restarts exactly that agent), and the federation
// files (mailboxes, address books) written AFTER a plan was applied. The fleet calls both
// inside its membership section; a dry run works on a copy.
import type { Manifest } from '../manifest/schema.js';
import { syncFederation, type FederationIdentities } from '../federation/sync.js';
import { ensureHooksTokens, type HooksTokenChanges } from '../provision/hooks-token.js';
import { generateToken } from '../provision/token.js';
import type { RegistryFile } from '../plan/types.js';
import type { Logger } from './logger.js';

/** Applies the hooks-token rules of `target` to `registry` (mutated) and logs what changed (addresses only). */
export function alignHooksTokens(registry: RegistryFile, target: Manifest, log?: Logger): HooksTokenChanges {
  const changes = ensureHooksTokens(registry, target, generateToken);
  if (log) {
    if (changes.created.length > 0) log.info({ agents: changes.created }, 'hooks token made for newly called agents');
    for (const c of changes.rotated) log.info({ agent: c.address, removedCallers: c.removedCallers }, 'hooks token rotated: a caller lost access');
    if (changes.dropped.length > 0) log.info({ agents: changes.dropped }, 'hooks token dropped: no agent calls them any more');
  }
  return changes;
}

/** Writes every mailbox and address book of `manifest`; one agent's failure is logged and the others go on. */
export async function writeFederationFiles(manifest: Manifest, registry: RegistryFile, log: Logger, identities: FederationIdentities = {}): Promise<void> {
  const result = await syncFederation(manifest, registry, identities);
  for (const w of result.written) log.info({ agent: w.address, files: w.files }, 'federation address book written');
  for (const w of result.removed) log.info({ agent: w.address, files: w.files }, 'federation address book removed: the agent left the federation');
  for (const m of result.missing) log.warn({ agent: m.address, callees: m.callees }, 'address book lacks callees with no port block or hooks token yet');
  for (const e of result.errors) log.error({ subject: e.subject, err: e.message }, 'federation files could not be written');
}
