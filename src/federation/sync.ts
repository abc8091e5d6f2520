// Brings the files of a federation in line with the manifest: a mailbox per call edge and
// an address book in the workspace of every agent that calls or is called (removed from
// agents that no longer take part). Nothing restarts: address books are not part of any
// agent's applied hash. Call it after every reconcile that applied (start-up, reload),
// when the registry holds the ports and hooks tokens. One agent's failure (a home not
// provisioned, a symlink planted in it) is reported and does not stop the others.
import type { Manifest } from '../manifest/schema.js';
import {
  ADDRESS_BOOK_JSON,
  ADDRESS_BOOK_MD,
  buildAddressBook,
  renderAddressBookJson,
  renderAddressBookMarkdown,
} from '../plan/address-book.js';
import { federationGraph, type FederationEdge } from '../plan/federation.js';
import type { RegistryFile } from '../plan/types.js';
import { agentPaths, ensureHome } from '../provision/home.js';
import { removeHomeFiles, writeHomeFiles, type HomeTarget } from './home-write.js';
import { ensureMailbox, mailboxPaths, type Ids, type MailboxIdentity } from './mailbox.js';

/** Folder of the address book below an agent's home (fleetd owns the last two). */
export const BOOK_SEGMENTS = ['workspace', '.fleetd', 'federation'] as const;

/** Side inputs of syncFederation: per-tenant users, when agents run as their own. */
export interface FederationIdentities {
  /** The user an agent's gateway runs as; undefined: fleetd's own user. */
  userOf?: (address: string) => Ids | undefined;
  /** A group holding exactly the two agents of an edge (for its mailbox); undefined: no users. */
  groupOf?: (edge: FederationEdge) => number | undefined;
}

/** What syncFederation did; errors carry the agent or mailbox they concern. */
export interface FederationSyncResult {
  /** Address books written (changed files only). */
  written: { address: string; files: string[] }[];
  /** Address books removed from agents that left the federation. */
  removed: { address: string; files: string[] }[];
  /** Mailbox folders ensured. */
  mailboxes: string[];
  /** Callees left out of a book (no port or hooks token yet). */
  missing: { address: string; callees: string[] }[];
  errors: { subject: string; message: string }[];
}

/** The folder target of an agent's address book. */
export function bookTarget(stateDir: string, address: string, owner?: Ids): HomeTarget {
  const [fleet, agent] = address.split('/') as [string, string];
  return { home: agentPaths(stateDir, fleet, agent).home, segments: [...BOOK_SEGMENTS], owned: 2, owner };
}

/** Writes every mailbox and address book of `manifest` (registry: ports and hooks tokens). */
export async function syncFederation(manifest: Manifest, registry: RegistryFile, identities: FederationIdentities = {}): Promise<FederationSyncResult> {
  const graph = federationGraph(manifest);
  const result: FederationSyncResult = { written: [], removed: [], mailboxes: [], missing: [], errors: [] };
  for (const edge of graph.edges) {
    const sender = identities.userOf?.(edge.from);
    const receiver = identities.userOf?.(edge.to);
    const gid = identities.groupOf?.(edge);
    const identity: MailboxIdentity | undefined = sender && receiver && gid !== undefined ? { sender, receiver, gid } : undefined;
    try {
      result.mailboxes.push((await ensureMailbox(manifest.stateDir, edge.mailbox, identity)).dir);
    } catch (err) {
      result.errors.push({ subject: `mailbox ${edge.from} -> ${edge.to}`, message: (err as Error).message });
    }
  }
  const mailboxDir = (name: string) => mailboxPaths(manifest.stateDir, name).dir;
  for (const [address, entry] of Object.entries(registry.agents).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (entry.source !== 'manifest') continue;
    const node = graph.nodes[address];
    const target = bookTarget(manifest.stateDir, address, identities.userOf?.(address));
    try {
      if (!node || (node.calls.length === 0 && node.callers.length === 0)) {
        const files = await removeHomeFiles(target, [ADDRESS_BOOK_JSON, ADDRESS_BOOK_MD]);
        if (files.length > 0) result.removed.push({ address, files });
        continue;
      }
      const { book, missing } = buildAddressBook({ graph, registry, address, mailboxDir });
      // An agent still waiting for a start slot has no home yet: make it as provisioning would.
      await ensureHome(manifest.stateDir, entry.fleet, agentPaths(manifest.stateDir, entry.fleet, entry.agent));
      if (missing.length > 0) result.missing.push({ address, callees: missing });
      const files = await writeHomeFiles(target, [
        { name: ADDRESS_BOOK_JSON, data: renderAddressBookJson(book) },
        { name: ADDRESS_BOOK_MD, data: renderAddressBookMarkdown(book) },
      ]);
      if (files.length > 0) result.written.push({ address, files });
    } catch (err) {
      result.errors.push({ subject: address, message: (err as Error).message });
    }
  }
  return result;
}
