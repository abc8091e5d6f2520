// OpenClaw's host-global lock files, and which of them removed agents left behind.
// OpenClaw 2026.9.6 (dist/sqlite-source-handle-*.mjs, src/infra/state-database-coordinator-paths.ts)
// keeps them in `/tmp/openclaw-state-locks-<uid>/` (literally /tmp, not $TMPDIR), named
// `<family>.<first 8 hex of sha256(canonical state db path)>.lock.sqlite`, with families
// gateway-lifecycle, state-lifecycle, state-handles; the db path is
// `<OPENCLAW_STATE_DIR>/state/openclaw.sqlite` made canonical with realpath (through the
// nearest existing ancestor when it does not exist). Checked on a real gateway: its state
// dir /tmp/hr-probe/home/.openclaw gave gateway-lifecycle.70b7c17e.lock.sqlite.
// Under systemd (PrivateTmp=yes) this /tmp is fleetd's private one, shared with its gateways.
import { createHash } from 'node:crypto';
import { readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { DoctorCheck } from '../protocol/doctor-schemas.js';
import { check, FLEETD_SCOPE, shellQuote } from './check.js';

/** Where OpenClaw puts the lock files of processes running as `uid`. */
export function lockDirOf(uid: number, tmp = '/tmp'): string {
  return join(tmp, `openclaw-state-locks-${uid}`);
}

/** The state database of an agent's home (what OpenClaw hashes). */
export function stateDbOf(home: string): string {
  return join(home, '.openclaw', 'state', 'openclaw.sqlite');
}

/** `path` with symlinks resolved through its nearest existing ancestor, as OpenClaw makes it canonical. */
export function canonicalPath(path: string): string {
  const rest: string[] = [];
  let at = path;
  for (;;) {
    try {
      return join(realpathSync.native(at), ...rest.reverse());
    } catch {
      const up = dirname(at);
      if (up === at) return path;
      rest.push(basename(at));
      at = up;
    }
  }
}

/** The 8-hex-digit hash OpenClaw names an agent's lock files by. */
export function lockHashOf(home: string): string {
  return createHash('sha256').update(canonicalPath(stateDbOf(home))).digest('hex').slice(0, 8);
}

/** One lock file in the folder. */
export interface LockFile {
  path: string;
  family: string;
  hash: string;
}

/** The lock files in `dir` (none when it does not exist). */
export function listLockFiles(dir: string): LockFile[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: LockFile[] = [];
  for (const name of names.sort()) {
    const m = /^([a-z][a-z-]*)\.([0-9a-f]{8})\.lock\.sqlite$/.exec(name);
    if (m) out.push({ path: join(dir, name), family: m[1]!, hash: m[2]! });
  }
  return out;
}

/** Paths every readable process holds open (one /proc scan), to tell a stale lock from a held one. */
export function openPaths(procRoot = '/proc'): Set<string> {
  const out = new Set<string>();
  for (const entry of readdirSync(procRoot)) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(join(procRoot, entry, 'fd'));
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        out.add(readlinkSync(join(procRoot, entry, 'fd', fd)));
      } catch {
        // closed meanwhile
      }
    }
  }
  return out;
}

/**
 * Lock files of removed agents (homes still on disk, no agent any more) that no process holds:
 * attention, with the rm command. Files of current agents are fine; files of no known home
 * (another OpenClaw on the host, or an agent whose home was purged) are counted as information.
 */
export function checkLockFiles(input: { dir: string; current: ReadonlyMap<string, string>; removed: ReadonlyMap<string, string>; open: ReadonlySet<string> }): DoctorCheck[] {
  const files = listLockFiles(input.dir);
  const owners = new Map<string, { address: string; current: boolean }>();
  for (const [address, hash] of input.removed) owners.set(hash, { address, current: false });
  for (const [address, hash] of input.current) owners.set(hash, { address, current: true });
  const stale = new Map<string, string[]>();
  let ours = 0;
  let foreign = 0;
  for (const file of files) {
    const owner = owners.get(file.hash);
    if (!owner) foreign += 1;
    else if (owner.current || input.open.has(file.path)) ours += 1;
    else stale.set(owner.address, [...(stale.get(owner.address) ?? []), file.path]);
  }
  const checks: DoctorCheck[] = [];
  for (const [address, paths] of stale) {
    checks.push(check('warn', 'lock-files', address, 'OpenClaw lock files', `${paths.length} lock file(s) left by this removed agent, held by no process: ${paths.join(', ')}`, `rm ${paths.map(shellQuote).join(' ')}`));
  }
  const summary = `${input.dir}: ${ours} of current agents${foreign > 0 ? `, ${foreign} of no agent of this fleetd (another OpenClaw on this host, or a purged agent; left alone)` : ''}`;
  checks.push(check(foreign > 0 ? 'info' : 'ok', 'lock-files', FLEETD_SCOPE, 'OpenClaw lock files', summary));
  return checks;
}
