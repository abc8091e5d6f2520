// The federation as `fleetctl federation` shows it: who may call whom, knowledge per agent
// (and whether agents could write to it), mailbox backlogs. Reads the disk (mailbox
// folders, knowledge folder modes); never shows a token.
import { stat } from 'node:fs/promises';
import type { Manifest } from '../manifest/schema.js';
import { federationGraph } from '../plan/federation.js';
import type { RegistryFile } from '../plan/types.js';
import type { FederationView } from '../protocol/schemas.js';
import { backlogOf, mailboxPaths, type Ids } from './mailbox.js';

/** True when a user with `ids` may write a file of this owner/mode (primary group only; root always). */
export function mayWrite(file: { uid: number; gid: number; mode: number }, ids: Ids): boolean {
  if (ids.uid === 0) return true;
  if (file.uid === ids.uid) return (file.mode & 0o200) !== 0;
  if (file.gid === ids.gid) return (file.mode & 0o020) !== 0;
  return (file.mode & 0o002) !== 0;
}

/** Builds the federation view; `userOf` gives an agent's user (default: fleetd's own, as gateways run without users). */
export async function federationView(manifest: Manifest, registry: RegistryFile, userOf?: (address: string) => Ids | undefined): Promise<FederationView> {
  const graph = federationGraph(manifest);
  const self: Ids = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  const folderStats = new Map<string, { uid: number; gid: number; mode: number } | null>();
  for (const folder of new Set(Object.values(manifest.knowledge))) folderStats.set(folder, await stat(folder).catch(() => null));
  const agents = Object.values(graph.nodes)
    .filter((node) => node.calls.length > 0 || node.callers.length > 0 || node.knowledge.length > 0)
    .sort((a, b) => (a.address < b.address ? -1 : 1))
    .map((node) => {
      const ids = userOf?.(node.address) ?? self;
      return {
        address: node.address,
        enabled: node.enabled,
        description: node.description ?? null,
        calls: node.calls,
        callers: node.callers,
        hooks: node.callers.length > 0 && registry.agents[node.address]?.hooksToken !== undefined,
        knowledge: node.knowledge.map((k) => {
          const s = folderStats.get(k.folder);
          return { name: k.name, folder: k.folder, writable: s ? mayWrite(s, ids) : null };
        }),
      };
    });
  const edges = await Promise.all(
    graph.edges.map(async (e) => ({ from: e.from, to: e.to, mailbox: mailboxPaths(manifest.stateDir, e.mailbox).dir, backlog: await backlogOf(mailboxPaths(manifest.stateDir, e.mailbox)) })),
  );
  return { agents, edges, usersEnforced: userOf !== undefined };
}
