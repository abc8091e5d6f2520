// Federation rules of the manifest (issue 13): every `calls` and `knowledge` reference
// resolves, nobody calls itself, and the `hooks` keys fleetd writes for a called agent are
// not set by any config layer that reaches it. Like rules.ts these read the raw JSON5
// value and skip whatever has the wrong shape (zod reports that). Folder existence needs
// the disk and is checked by knowledge-folders.ts at load time.
import { ID_PATTERN, ID_RULE, parseAddress } from './ids.js';
import { suggestKey, type PathSegment, type Problem } from './render-issues.js';

/** Keys under `hooks` fleetd writes for every agent that is called; no config layer reaching such an agent may set them. */
export const MANAGED_HOOKS_KEYS = ['enabled', 'token', 'path', 'allowRequestSessionKey', 'defaultSessionKey', 'allowedSessionKeyPrefixes'] as const;

type Obj = Record<string, unknown>;

function asObj(value: unknown): Obj | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Obj) : undefined;
}

function entries(value: unknown): [string, Obj | undefined][] {
  return Object.entries(asObj(value) ?? {}).map(([key, v]) => [key, asObj(v)]);
}

/** Folder name of the mailbox of one call edge: `<fleet>.<agent>-to-<fleet>.<agent>` (ids never hold a dot). */
export function mailboxName(from: string, to: string): string {
  return `${from.replace('/', '.')}-to-${to.replace('/', '.')}`;
}

/** The call edges of a raw manifest that are well formed: [from, to, path of the reference]. */
function rawEdges(raw: Obj, known: ReadonlySet<string>): { from: string; to: string; path: PathSegment[] }[] {
  const out: { from: string; to: string; path: PathSegment[] }[] = [];
  for (const [fleetId, fleet] of entries(raw.fleets)) {
    for (const [agentId, agent] of entries(fleet?.agents)) {
      const calls = agent?.calls;
      if (!Array.isArray(calls)) continue;
      calls.forEach((target, i) => {
        if (typeof target === 'string' && known.has(target) && target !== `${fleetId}/${agentId}`) {
          out.push({ from: `${fleetId}/${agentId}`, to: target, path: ['fleets', fleetId, 'agents', agentId, 'calls', i] });
        }
      });
    }
  }
  return out;
}

/** Every agent address the raw manifest declares. */
function declaredAddresses(raw: Obj): Set<string> {
  const out = new Set<string>();
  for (const [fleetId, fleet] of entries(raw.fleets)) for (const [agentId] of entries(fleet?.agents)) out.add(`${fleetId}/${agentId}`);
  return out;
}

/** `calls` entries: well-formed addresses of declared agents, not itself, not twice; mailbox names distinct. */
export function checkCalls(raw: Obj): Problem[] {
  const problems: Problem[] = [];
  const known = declaredAddresses(raw);
  const knownList = [...known].sort();
  for (const [fleetId, fleet] of entries(raw.fleets)) {
    for (const [agentId, agent] of entries(fleet?.agents)) {
      const calls = agent?.calls;
      if (!Array.isArray(calls)) continue;
      const self = `${fleetId}/${agentId}`;
      const firstAt = new Map<string, number>();
      calls.forEach((target, i) => {
        const path: PathSegment[] = ['fleets', fleetId, 'agents', agentId, 'calls', i];
        if (typeof target !== 'string') return; // zod reports the type
        if (!parseAddress(target)) {
          const local = `${fleetId}/${target}`;
          const hint = ID_PATTERN.test(target) && known.has(local) ? ` (did you mean "${local}"?)` : '';
          problems.push({ path, message: `expected an agent address "fleet/agent" (ids are ${ID_RULE}), found ${JSON.stringify(target)}${hint}` });
          return;
        }
        if (target === self) {
          problems.push({ path, message: `an agent cannot call itself, found ${JSON.stringify(target)}; remove it` });
          return;
        }
        if (!known.has(target)) {
          const suggestion = suggestKey(target, knownList);
          const hint = suggestion ? `did you mean "${suggestion}"?` : `declared agents: ${knownList.join(', ')}`;
          problems.push({ path, message: `unknown agent ${JSON.stringify(target)}: no such agent in the manifest (agents added with fleetctl cannot be called); ${hint}` });
          return;
        }
        const earlier = firstAt.get(target);
        if (earlier !== undefined) problems.push({ path, message: `${JSON.stringify(target)} is listed twice (also at calls[${earlier}]); remove one` });
        else firstAt.set(target, i);
      });
    }
  }
  // Two edges may only share a mailbox folder name when ids contain "-to-"; refuse that rather than mix their mail.
  const byName = new Map<string, { from: string; to: string; path: PathSegment[] }>();
  for (const edge of rawEdges(raw, known)) {
    const name = mailboxName(edge.from, edge.to);
    const other = byName.get(name);
    if (other && (other.from !== edge.from || other.to !== edge.to)) {
      problems.push({ path: edge.path, message: `the mailbox of ${edge.from} -> ${edge.to} would be named "${name}", like the one of ${other.from} -> ${other.to}; rename one of these agents` });
    } else byName.set(name, edge);
  }
  return problems;
}

/** Top-level `knowledge` names and folders, and every agent's `knowledge` references. */
export function checkKnowledge(raw: Obj): Problem[] {
  const problems: Problem[] = [];
  const declared = asObj(raw.knowledge) ?? {};
  const names = Object.keys(declared).sort();
  for (const [name, folder] of Object.entries(declared)) {
    if (!ID_PATTERN.test(name)) problems.push({ path: ['knowledge', name], message: `knowledge names must be ${ID_RULE}, found ${JSON.stringify(name)}` });
    if (typeof folder === 'string' && folder.startsWith('~')) {
      problems.push({ path: ['knowledge', name], message: `fleetd does not expand "~": write an absolute path or one relative to the manifest folder, found ${JSON.stringify(folder)}` });
    }
  }
  for (const [fleetId, fleet] of entries(raw.fleets)) {
    for (const [agentId, agent] of entries(fleet?.agents)) {
      const refs = agent?.knowledge;
      if (!Array.isArray(refs)) continue;
      const firstAt = new Map<string, number>();
      refs.forEach((name, i) => {
        const path: PathSegment[] = ['fleets', fleetId, 'agents', agentId, 'knowledge', i];
        if (typeof name !== 'string') return;
        if (!Object.hasOwn(declared, name)) {
          const suggestion = suggestKey(name, names);
          const hint = suggestion ? `did you mean "${suggestion}"?` : names.length ? `declared: ${names.join(', ')}` : 'the top-level "knowledge" map declares none; add it there as name: "/folder"';
          problems.push({ path, message: `unknown knowledge name ${JSON.stringify(name)}; ${hint}` });
          return;
        }
        const earlier = firstAt.get(name);
        if (earlier !== undefined) problems.push({ path, message: `${JSON.stringify(name)} is listed twice (also at knowledge[${earlier}]); remove one` });
        else firstAt.set(name, i);
      });
    }
  }
  return problems;
}

/** No config layer that reaches a called agent may set a key of MANAGED_HOOKS_KEYS. */
export function checkManagedHooks(raw: Obj): Problem[] {
  const known = declaredAddresses(raw);
  const callers = new Map<string, string[]>();
  for (const edge of rawEdges(raw, known)) callers.set(edge.to, [...(callers.get(edge.to) ?? []), edge.from]);
  if (callers.size === 0) return [];
  const problems: Problem[] = [];
  const report = (path: PathSegment[], config: unknown, callees: string[]) => {
    const hooks = asObj(asObj(config)?.hooks);
    if (!hooks || callees.length === 0) return;
    const who = callees.map((c) => `${c} (called by ${[...new Set(callers.get(c))].sort().join(', ')})`).join(', ');
    for (const key of MANAGED_HOOKS_KEYS) {
      if (Object.hasOwn(hooks, key)) problems.push({ path: [...path, 'hooks', key], message: `managed by fleetd for ${who}, remove it` });
    }
  };
  const calleesIn = (fleetId?: string) => [...callers.keys()].filter((c) => fleetId === undefined || c.startsWith(`${fleetId}/`)).sort();
  report(['defaults', 'config'], asObj(raw.defaults)?.config, calleesIn());
  for (const [fleetId, fleet] of entries(raw.fleets)) {
    report(['fleets', fleetId, 'defaults', 'config'], asObj(fleet?.defaults)?.config, calleesIn(fleetId));
    for (const [agentId, agent] of entries(fleet?.agents)) {
      const address = `${fleetId}/${agentId}`;
      report(['fleets', fleetId, 'agents', agentId, 'config'], agent?.config, callers.has(address) ? [address] : []);
    }
  }
  return problems;
}

/** Every federation rule over the raw manifest. */
export function checkFederation(raw: Obj): Problem[] {
  return [...checkKnowledge(raw), ...checkCalls(raw), ...checkManagedHooks(raw)];
}
