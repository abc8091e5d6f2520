// An agent's home owned by its tenant user, and fleetd's writes into it. Layout and modes:
//   <stateDir>, <stateDir>/fleets, <stateDir>/fleets/<fleet>   fleetd's, 0711: a tenant may
//       pass through to its own home but list nothing (other homes' names stay unlisted);
//   <home> and .openclaw, workspace, logs, .cache, tmp         the tenant's, 0700: no other
//       agent (another user) can enter, read or list them.
// Everything inside a home goes through tenant-fs.ts (held folders, no symlink followed),
// because the tenant controls what is there. What fleetd keeps for itself (gateway.log,
// shim, bookkeeping) lives outside the home, in <stateDir>/agents/ (layout decision 1).
import { lstatSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { FleetError } from '../errors.js';
import { agentPaths } from '../provision/home.js';
import { chownTree, HeldDir, openDirChain, readFileIn, writeFileIn, type Owner } from './tenant-fs.js';

/** Mode of the folders above the homes when tenant users are in use. */
export const TRAVERSE_MODE = 0o711;

/** Mode of a home and of the folders fleetd makes in it. */
export const HOME_MODE = 0o700;

/** Folders fleetd makes in every home (relative), in creation order. */
export const HOME_SUBDIRS = ['.openclaw', 'workspace', 'logs', '.cache', 'tmp'] as const;

/** What prepareTenantHome did. */
export interface TenantHomeReport {
  home: string;
  /** Entries given to the user because the home had another owner (first use, or a user change). */
  chowned: number;
  /** Entries kept as they were on purpose (hard links, devices). */
  skipped: string[];
}

/** Creates or repairs `fleet/agent`'s home for `owner` (see the header); the state dir must exist. */
export function prepareTenantHome(stateDir: string, fleet: string, agent: string, owner: Owner): TenantHomeReport {
  const paths = agentPaths(stateDir, fleet, agent);
  const base = HeldDir.open(resolve(stateDir));
  const held: HeldDir[] = [base];
  try {
    // only add the search bit for others: the state dir may be the operator's own choice
    const baseMode = base.stat().mode & 0o7777;
    if ((baseMode & 0o011) !== 0o011) base.set(baseMode | 0o011);
    const fleets = base.ensureChild('fleets', TRAVERSE_MODE);
    held.push(fleets);
    const fleetDir = fleets.ensureChild(fleet, TRAVERSE_MODE);
    held.push(fleetDir);
    const home = fleetDir.ensureChild(agent, HOME_MODE);
    held.push(home);
    let chowned = 0;
    let skipped: string[] = [];
    if (home.stat().uid !== owner.uid) {
      const result = chownTree(home, owner);
      chowned = result.changed;
      skipped = result.skipped;
    }
    home.set(HOME_MODE, owner);
    for (const name of HOME_SUBDIRS) held.push(home.ensureChild(name, HOME_MODE, owner));
    return { home: paths.home, chowned, skipped };
  } finally {
    for (const dir of held.reverse()) dir.close();
  }
}

/**
 * Writes `data` to `file` inside an agent's home (e.g. .openclaw/openclaw.json) unless it
 * already holds exactly that; owned by `owner`, `mode` (default 0600). Each component
 * below the state dir is checked with lstat first (a symlink is refused with a clear
 * message), and the write itself goes through held folders (tenant-fs.ts), so a swap
 * after the check cannot redirect it. Returns true when written.
 */
export function writeTenantFile(stateDir: string, file: string, data: string, owner: Owner, mode = 0o600): boolean {
  const root = resolve(stateDir);
  const rel = relative(root, resolve(file));
  if (rel === '' || rel.startsWith('..') || rel.startsWith(sep)) throw new FleetError('PROVISION_FAILED', `${file} is not inside the state dir ${root}; refusing to write it`);
  const parts = rel.split(sep);
  const name = parts.pop() as string;
  let cur = root;
  for (const part of parts) {
    cur = join(cur, part);
    const st = lstatSync(cur, { throwIfNoEntry: false });
    if (st?.isSymbolicLink()) throw new FleetError('PROVISION_FAILED', `refusing to write ${file}: ${cur} is a symlink, and fleetd never writes through one; move it away and retry`);
  }
  const dir = openDirChain(root, parts);
  try {
    if (readFileIn(dir, name) === data) {
      const st = lstatSync(dir.at(name));
      if (st.uid === owner.uid && st.gid === owner.gid && (st.mode & 0o7777) === mode) return false;
    }
    writeFileIn(dir, name, data, { mode, owner });
    return true;
  } finally {
    dir.close();
  }
}

/** A user's ids as far as file modes go. */
export interface Accessor {
  uid: number;
  groups: readonly number[];
}

// Permission bits as the kernel applies them: owner bits if the uid owns it, else group
// bits if one of its groups does, else the others' bits. ACLs are not read.
function allowed(st: { uid: number; gid: number; mode: number }, who: Accessor, bit: 4 | 2 | 1): boolean {
  if (who.uid === 0) return bit !== 1 || (st.mode & 0o111) !== 0;
  const shift = st.uid === who.uid ? 6 : who.groups.includes(st.gid) ? 3 : 0;
  return ((st.mode >> shift) & bit) !== 0;
}

/**
 * Why `who` cannot reach `path` with `need` (r: read, x: execute/enter), or undefined when
 * it can: every folder on the way needs x. For the runtimes folder and the Node binary a
 * tenant's gateway executes (they usually sit in fleetd's state dir).
 */
export function accessProblem(path: string, who: Accessor, need: 'r' | 'x' | 'rx'): string | undefined {
  const target = resolve(path);
  let st;
  const chain: string[] = [];
  for (let cur = dirname(target); ; cur = dirname(cur)) {
    chain.unshift(cur);
    if (cur === dirname(cur)) break;
  }
  for (const dir of chain) {
    try {
      st = statSync(dir);
    } catch {
      return `${dir} does not exist`;
    }
    if (!allowed(st, who, 1)) return `uid ${who.uid} cannot enter ${dir} (mode ${(st.mode & 0o7777).toString(8)}, owner ${st.uid}:${st.gid}); e.g. chmod o+x ${dir}`;
  }
  try {
    st = statSync(target);
  } catch {
    return `${target} does not exist`;
  }
  for (const bit of need.split('') as Array<'r' | 'x'>) {
    if (!allowed(st, who, bit === 'r' ? 4 : 1)) {
      return `uid ${who.uid} cannot ${bit === 'r' ? 'read' : st.isDirectory() ? 'enter' : 'execute'} ${target} (mode ${(st.mode & 0o7777).toString(8)}, owner ${st.uid}:${st.gid})`;
    }
  }
  return undefined;
}
