// The federation of a manifest as data (pure): who may call whom, who is called by whom,
// which knowledge folders each agent indexes, and the openclaw.json keys that follow from
// it (the callee's `hooks` block, the agent's `memory.search.extraPaths`).
import { mailboxName } from '../manifest/federation-rules.js';
import type { AgentAddress } from '../manifest/ids.js';
import type { Manifest } from '../manifest/schema.js';
import { isPlainObject, type JsonObject } from './merge.js';

/** Base path of the hooks of every called agent (OpenClaw's default, written explicitly). */
export const HOOKS_PATH = '/hooks';

/** The one session key of hook runs of a called agent: callers cannot choose keys (allowRequestSessionKey: false). */
export const HOOKS_SESSION_KEY = 'hook:fleetd';

/** One permitted call: `from` may POST to `to`'s hooks; its mailbox folder name under comms/. */
export interface FederationEdge {
  from: AgentAddress;
  to: AgentAddress;
  mailbox: string;
}

/** One agent's place in the federation. */
export interface FederationNode {
  address: AgentAddress;
  enabled: boolean;
  description?: string;
  /** Agents it may call, sorted. */
  calls: AgentAddress[];
  /** Agents that may call it, sorted. */
  callers: AgentAddress[];
  /** Knowledge it indexes: name and (absolute) folder, in manifest order. */
  knowledge: { name: string; folder: string }[];
}

/** The whole federation: every manifest agent as a node (most have no edges), edges sorted. */
export interface FederationGraph {
  nodes: Record<string, FederationNode>;
  edges: FederationEdge[];
}

/** What provisioning needs to know of an agent's federation (DesiredAgent.federation). */
export interface DesiredFederation {
  /** True when some agent calls it: its hooks are enabled. */
  callable: boolean;
  /** The agents that call it, sorted (its hooks token is handed to exactly these). */
  callers: AgentAddress[];
  /** Its hooks token from the registry, once one was made. */
  hooksToken?: string;
  /** Knowledge folders (absolute) added to memory.search.extraPaths. */
  knowledgeFolders: string[];
}

function byAddress(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Builds the federation graph of a validated manifest (references are known to resolve). */
export function federationGraph(manifest: Pick<Manifest, 'fleets' | 'knowledge'>): FederationGraph {
  const nodes: Record<string, FederationNode> = {};
  const edges: FederationEdge[] = [];
  for (const [fleetId, fleet] of Object.entries(manifest.fleets)) {
    for (const [agentId, agent] of Object.entries(fleet.agents)) {
      const address: AgentAddress = `${fleetId}/${agentId}`;
      nodes[address] = {
        address,
        enabled: agent.enabled,
        ...(agent.description !== undefined ? { description: agent.description } : {}),
        calls: [...new Set(agent.calls as AgentAddress[])].sort(byAddress),
        callers: [],
        knowledge: agent.knowledge.filter((name) => Object.hasOwn(manifest.knowledge, name)).map((name) => ({ name, folder: manifest.knowledge[name]! })),
      };
    }
  }
  for (const node of Object.values(nodes)) {
    for (const to of node.calls) {
      const callee = nodes[to];
      if (!callee || to === node.address) continue;
      callee.callers.push(node.address);
      edges.push({ from: node.address, to, mailbox: mailboxName(node.address, to) });
    }
  }
  for (const node of Object.values(nodes)) node.callers.sort(byAddress);
  edges.sort((a, b) => byAddress(a.from, b.from) || byAddress(a.to, b.to));
  return { nodes, edges };
}

/** True when `node` takes part in the federation (calls, is called, or indexes knowledge). */
export function isFederated(node: FederationNode | undefined): boolean {
  return node !== undefined && (node.calls.length > 0 || node.callers.length > 0 || node.knowledge.length > 0);
}

/** The `hooks` block fleetd writes for a called agent (keys checked against OpenClaw 2026.9.6 docs/gateway/config-hooks.md). */
export function hooksBlock(token: string): JsonObject {
  return {
    enabled: true,
    token,
    path: HOOKS_PATH,
    allowRequestSessionKey: false,
    defaultSessionKey: HOOKS_SESSION_KEY,
    allowedSessionKeyPrefixes: ['hook:'],
  };
}

/**
 * Lays the federation keys over a merged config (pure, input untouched): `hooks` managed keys
 * for a called agent with a token (other `hooks` keys of the manifest kept), and knowledge
 * folders appended to `memory.search.extraPaths` after the manifest's own entries.
 */
export function applyFederation(config: JsonObject, federation: DesiredFederation | undefined, hooksToken?: string): JsonObject {
  if (!federation) return config;
  const out: JsonObject = { ...config };
  const token = federation.hooksToken ?? hooksToken;
  if (federation.callable && token !== undefined) {
    const hooks = isPlainObject(config['hooks']) ? config['hooks'] : {};
    out['hooks'] = { ...hooks, ...hooksBlock(token) };
  }
  if (federation.knowledgeFolders.length > 0) {
    const memory = isPlainObject(config['memory']) ? config['memory'] : {};
    const search = isPlainObject(memory['search']) ? memory['search'] : {};
    const own = Array.isArray(search['extraPaths']) ? (search['extraPaths'] as unknown[]) : [];
    const present = new Set(own.map((entry) => (typeof entry === 'string' ? entry : isPlainObject(entry) ? entry['path'] : undefined)));
    const added = federation.knowledgeFolders.filter((folder) => !present.has(folder));
    out['memory'] = { ...memory, search: { ...search, extraPaths: [...own, ...added] } };
  }
  return out;
}

/** DesiredAgent.federation of one manifest agent: callable, its token when the registry has one, its folders. */
export function desiredFederation(graph: FederationGraph, address: string, hooksToken: string | undefined): DesiredFederation | undefined {
  const node = graph.nodes[address];
  if (!isFederated(node)) return undefined;
  return {
    callable: node!.callers.length > 0,
    callers: [...node!.callers],
    ...(hooksToken !== undefined ? { hooksToken } : {}),
    knowledgeFolders: node!.knowledge.map((k) => k.folder),
  };
}
