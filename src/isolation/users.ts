// Tenant users (pure): the name rule, which user an agent runs as (agent over fleet), and
// parsers of passwd/group lines for hosts without getent.

/** A user name as useradd accepts it by default (NAME_REGEX), at most 32 characters. */
export const USER_NAME_PATTERN = /^[a-z_][a-z0-9_-]{0,31}$/;

/** Human text for USER_NAME_PATTERN. */
export const USER_NAME_RULE = 'lowercase letters, digits, "_" and "-", starting with a letter or "_", at most 32 characters';

/** One passwd entry, the fields fleetd uses. */
export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

/** Where an agent's user was set in the manifest (for messages), and the name. */
export interface UserChoice {
  name: string;
  /** `fleets.acme.user` or `fleets.acme.agents.korax.user`. */
  setAt: string;
}

/** The manifest shape this module reads (a subset of Manifest). */
export interface UserLevels {
  fleets: Record<string, { user?: string | undefined; agents: Record<string, { user?: string | undefined }> }>;
}

/** The user `fleet/agent` runs as: the agent's `user`, else its fleet's; undefined = fleetd's own user. */
export function agentUser(manifest: UserLevels, fleet: string, agent: string): UserChoice | undefined {
  const fleetSpec = Object.hasOwn(manifest.fleets, fleet) ? manifest.fleets[fleet] : undefined;
  const agentSpec = fleetSpec && Object.hasOwn(fleetSpec.agents, agent) ? fleetSpec.agents[agent] : undefined;
  if (agentSpec?.user !== undefined) return { name: agentSpec.user, setAt: `fleets.${fleet}.agents.${agent}.user` };
  if (fleetSpec?.user !== undefined) return { name: fleetSpec.user, setAt: `fleets.${fleet}.user` };
  return undefined;
}

/** Parses one passwd line (`name:x:uid:gid:gecos:home:shell`); undefined when malformed. */
export function parsePasswdLine(line: string): PasswdEntry | undefined {
  const f = line.trim().split(':');
  if (f.length < 7 || !/^\d+$/.test(f[2]!) || !/^\d+$/.test(f[3]!)) return undefined;
  return { name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5]!, shell: f[6]! };
}

/** The passwd entry of `name` in a passwd text. */
export function findPasswd(text: string, name: string): PasswdEntry | undefined {
  for (const line of text.split('\n')) {
    const entry = parsePasswdLine(line);
    if (entry?.name === name) return entry;
  }
  return undefined;
}

/** Supplementary group ids of `name` in a group text (`name:x:gid:member,member`), plus its primary gid; sorted. */
export function groupsOf(text: string, name: string, primaryGid: number): number[] {
  const gids = new Set<number>([primaryGid]);
  for (const line of text.split('\n')) {
    const f = line.trim().split(':');
    if (f.length < 4 || !/^\d+$/.test(f[2]!)) continue;
    if (f[3]!.split(',').includes(name)) gids.add(Number(f[2]));
  }
  return [...gids].sort((a, b) => a - b);
}
