// Looks a tenant user up on this host and prepares running as it: uid, gid and groups
// (getent and id, so LDAP/SSSD users work; /etc/passwd and /etc/group when getent is
// missing), fleetd's privileges, and setpriv. Every failure says what to do next.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { FleetError } from '../errors.js';
import type { RunAs } from './launch-chain.js';
import { assertCanSwitchUsers } from './privileges.js';
import { findSystemTool } from './system-tools.js';
import { findPasswd, groupsOf, parsePasswdLine, type PasswdEntry, type UserChoice } from './users.js';

/** A tenant user as the host knows it. */
export interface TenantUser extends PasswdEntry {
  /** Primary and supplementary group ids, sorted. */
  groups: number[];
}

/** Result of running a lookup command: stdout and exit status; undefined when the command is not installed. */
export type RunTool = (file: string, args: string[]) => { status: number; stdout: string } | undefined;

/** Runs a command synchronously (lookups take milliseconds, once per user per start). */
export const runTool: RunTool = (file, args) => {
  try {
    return { status: 0, stdout: execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }) };
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { status?: number | null; stdout?: string };
    if (e.code === 'ENOENT') return undefined;
    return { status: e.status ?? 1, stdout: e.stdout ?? '' };
  }
};

/** Dependencies of lookupUser (real by default). */
export interface LookupDeps {
  run: RunTool;
  readFile(path: string): string;
}

const realLookupDeps: LookupDeps = { run: runTool, readFile: (path) => readFileSync(path, 'utf8') };

/** uid, gid, home, groups of `choice.name`; PROVISION_FAILED when it does not exist or is root. */
export function lookupUser(choice: UserChoice, deps: LookupDeps = realLookupDeps): TenantUser {
  const where = `user "${choice.name}" (${choice.setAt})`;
  let entry: PasswdEntry | undefined;
  const getent = deps.run('getent', ['passwd', choice.name]);
  if (getent === undefined) entry = findPasswd(deps.readFile('/etc/passwd'), choice.name);
  else if (getent.status === 0) entry = parsePasswdLine(getent.stdout.split('\n')[0] ?? '');
  if (!entry || entry.name !== choice.name) {
    throw new FleetError(
      'PROVISION_FAILED',
      `${where} does not exist on this host; create it, e.g. useradd --system --no-create-home --shell /usr/sbin/nologin ${choice.name}`,
    );
  }
  if (entry.uid === 0 || entry.gid === 0) {
    throw new FleetError('PROVISION_FAILED', `${where} has uid ${entry.uid} gid ${entry.gid}: a gateway must not run with root's ids; name an unprivileged user`);
  }
  const id = deps.run('id', ['-G', choice.name]);
  const groups =
    id !== undefined && id.status === 0 && /^[\d\s]+$/.test(id.stdout)
      ? [...new Set(id.stdout.trim().split(/\s+/).map(Number))].sort((a, b) => a - b)
      : groupsOf(deps.readFile('/etc/group'), choice.name, entry.gid);
  return { ...entry, groups };
}

/** Absolute path of setpriv; UNSUPPORTED_PLATFORM with the fix when it is not installed. */
export function findSetpriv(find: (name: string) => string | undefined = findSystemTool): string {
  const path = find('setpriv');
  if (path === undefined) {
    throw new FleetError('UNSUPPORTED_PLATFORM', 'setpriv is not installed in /usr/bin, /bin, /usr/sbin or /sbin; it comes with util-linux (apt install util-linux / dnf install util-linux-core)');
  }
  return path;
}

/** Everything needed to launch a gateway as `choice`: privileges checked, user looked up, setpriv found. */
export function prepareRunAs(choice: UserChoice, deps: LookupDeps = realLookupDeps): { user: TenantUser; runAs: RunAs } {
  assertCanSwitchUsers(`user "${choice.name}" (${choice.setAt})`);
  const user = lookupUser(choice, deps);
  return { user, runAs: { uid: user.uid, gid: user.gid, setpriv: findSetpriv() } };
}
