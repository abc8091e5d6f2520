// Where the federation meets the daemon: hooks tokens before a plan, then (once a plan was
// applied) rotations and the federation files. Kept apart from fleet.ts so the core only
// needs two calls; see the README section "Federation" for what operators see.
import type { Manifest } from '../manifest/schema.js';
import { syncFederation, type FederationIdentities } from '../federation/sync.js';
import { ensureHooksTokens, type HooksTokenChanges } from '../provision/hooks-token.js';
import { generateToken } from '../provision/token.js';
import type { PlanAction } from '../plan/types.js';
import type { Fleet } from './fleet.js';
import type { Logger } from './logger.js';

/**
 * Before planning against `target`: a hooks token for each newly called agent. With
 * `revoke` (start-up) also rotates and drops; without (reload, whose plan may be a dry run
 * or refused) it only creates, and finishFederation revokes once the plan applied.
 */
export async function prepareFederation(fleet: Pick<Fleet, 'persist'>, target: Manifest, log: Logger, options: { revoke?: boolean } = {}): Promise<void> {
  await fleet.persist((r) => {
    if (options.revoke) {
      const changes = ensureHooksTokens(r, target, generateToken);
      logChanges(log, changes);
      return;
    }
    const callers = new Map<string, string[] | undefined>(Object.entries(r.agents).map(([a, e]) => [a, e.hooksCallers]));
    const tokens = new Map(Object.entries(r.agents).map(([a, e]) => [a, e.hooksToken]));
    const changes = ensureHooksTokens(r, target, generateToken);
    // Put back what only finishFederation may do (rotate, drop); keep the new tokens.
    for (const [address, entry] of Object.entries(r.agents)) {
      const before = tokens.get(address);
      if (before !== undefined) {
        entry.hooksToken = before;
        const had = callers.get(address);
        if (had) entry.hooksCallers = had;
        else delete entry.hooksCallers;
      }
    }
    logChanges(log, { ...changes, rotated: [], dropped: [] });
  });
}

/** One log line per kind of change (addresses only, never a token). */
function logChanges(log: Logger, changes: HooksTokenChanges): void {
  if (changes.created.length > 0) log.info({ agents: changes.created }, 'hooks token made for newly called agents');
  for (const c of changes.rotated) log.info({ agent: c.address, removedCallers: c.removedCallers }, 'hooks token rotated: a caller lost access');
  if (changes.dropped.length > 0) log.info({ agents: changes.dropped }, 'hooks token dropped: no agent calls them any more');
}

/**
 * After a plan against the fleet's current manifest was applied: rotates the hooks token of
 * an agent that lost a caller and drops the one of an agent nobody calls (then reconciles
 * again, which restarts exactly those agents: their openclaw.json changed), and writes
 * mailboxes and address books. Returns the extra actions. Never throws for one agent.
 */
export async function finishFederation(fleet: Pick<Fleet, 'persist' | 'manifest' | 'registry' | 'reconcile'>, log: Logger, identities: FederationIdentities = {}): Promise<PlanAction[]> {
  let revoked: string[] = [];
  await fleet.persist((r) => {
    const changes = ensureHooksTokens(r, fleet.manifest, generateToken);
    revoked = [...changes.rotated.map((c) => c.address), ...changes.dropped];
    logChanges(log, changes);
  });
  const actions = revoked.length > 0 ? (await fleet.reconcile(fleet.manifest, false)).actions : [];
  const result = await syncFederation(fleet.manifest, fleet.registry, identities);
  for (const w of result.written) log.info({ agent: w.address, files: w.files }, 'federation address book written');
  for (const w of result.removed) log.info({ agent: w.address, files: w.files }, 'federation address book removed: the agent left the federation');
  for (const m of result.missing) log.warn({ agent: m.address, callees: m.callees }, 'address book lacks callees with no port block or hooks token yet');
  for (const e of result.errors) log.error({ subject: e.subject, err: e.message }, 'federation files could not be written');
  return actions;
}
