// Doctor: the files and folders fleetd made are still what it made them: real (no symlink in
// their place), of the right kind, owned by the right user, at the right mode. An agent's
// home and the folders fleetd makes in it are 0700, openclaw.json 0600, all owned by the
// agent's user when it has one (isolation/tenant-home.ts), else by fleetd's; fleetd's own
// folder of the agent (<stateDir>/agents/<fleet>/<agent>: last-applied record, captured logs,
// and its shim's run files shim.json, exit.json, shim.err and shim.sock) 0700 / 0600, fleetd's.
// The state dir 0700, registry.json 0600, the socket 0600 (0660 with socketGroup); with
// tenant users the state dir and the folders above the homes may be 0711 (a tenant passes
// through to its home, lists nothing). Each problem is one check whose next step fixes it.
import { lstat, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { DoctorCheck } from '../protocol/doctor-schemas.js';
import { agentPaths } from '../provision/home.js';
import { TRAVERSE_MODE } from '../isolation/tenant-home.js';
import { SHIM_FILES } from '../shim/protocol.js';
import { check, shellQuote } from './check.js';

/** What one path must be. */
export interface PathRule {
  path: string;
  kind: 'dir' | 'file' | 'socket';
  /** Permission bits wanted, exactly (the first is the one a fix sets). */
  mode: number;
  /** Another mode fleetd itself sets in some setups (0711 above tenant homes). */
  alsoMode?: number;
  /** Owner wanted. */
  uid: number;
  /** Follow a symlink at this path (the state dir may be one the operator chose); default false. */
  follow?: boolean;
}

/** Who owns an agent's files: fleetd's user, and the agent's own user when it has one. */
export interface AgentOwners {
  fleetd: number;
  /** uid of the agent's tenant user (its home and openclaw.json are that user's). */
  tenant?: number | undefined;
  /** Tenant users are in use on this fleetd: folders above the homes may be 0711. */
  tenants: boolean;
}

/** The rules for one agent's home, fleetd's folder of it and its shim's files (files that do not exist yet are skipped). */
export async function agentPathRules(stateDir: string, fleet: string, agent: string, owners: AgentOwners): Promise<PathRule[]> {
  const p = agentPaths(stateDir, fleet, agent);
  const traverse = owners.tenants ? { alsoMode: TRAVERSE_MODE } : {};
  const homeUid = owners.tenant ?? owners.fleetd;
  const rules: PathRule[] = [{ path: join(stateDir, 'fleets', fleet), kind: 'dir', mode: 0o700, ...traverse, uid: owners.fleetd }];
  for (const path of [p.home, p.openclawDir, p.workspace, p.logsDir, p.cacheDir, p.tmpDir]) rules.push({ path, kind: 'dir', mode: 0o700, uid: homeUid });
  rules.push({ path: p.configPath, kind: 'file', mode: 0o600, uid: homeUid });
  for (const path of [join(stateDir, 'agents', fleet), p.supervisorDir]) rules.push({ path, kind: 'dir', mode: 0o700, uid: owners.fleetd });
  for (const path of [p.appliedConfig, p.logFile, join(p.supervisorDir, SHIM_FILES.record), join(p.supervisorDir, SHIM_FILES.exit), join(p.supervisorDir, SHIM_FILES.stderr)]) {
    rules.push({ path, kind: 'file', mode: 0o600, uid: owners.fleetd });
  }
  rules.push({ path: join(p.supervisorDir, SHIM_FILES.socket), kind: 'socket', mode: 0o600, uid: owners.fleetd });
  const rotated = (await readdir(p.supervisorDir).catch(() => [] as string[])).filter((name) => /^gateway\.log\.\d+$/.test(name));
  for (const name of rotated.sort()) rules.push({ path: join(p.supervisorDir, name), kind: 'file', mode: 0o600, uid: owners.fleetd });
  return rules;
}

/** The rules for fleetd's own files: state dir, its two trees, registry, socket. */
export function fleetdPathRules(input: { stateDir: string; socket: string; socketGroup?: string | undefined; uid: number; tenants: boolean }): PathRule[] {
  const { stateDir, uid } = input;
  const traverse = input.tenants ? { alsoMode: TRAVERSE_MODE } : {};
  return [
    { path: resolve(stateDir), kind: 'dir', mode: 0o700, ...traverse, uid, follow: true },
    { path: join(stateDir, 'fleets'), kind: 'dir', mode: 0o700, ...traverse, uid },
    { path: join(stateDir, 'agents'), kind: 'dir', mode: 0o700, uid },
    { path: join(stateDir, 'registry.json'), kind: 'file', mode: 0o600, uid },
    { path: input.socket, kind: 'socket', mode: input.socketGroup ? 0o660 : 0o600, uid },
  ];
}

/** Octal for people: 0700. */
function octal(mode: number): string {
  return mode.toString(8).padStart(4, '0');
}

/** Checks each rule; one check per problem, or one `ok` check naming how many paths were fine. */
export async function checkPaths(scope: string, rules: readonly PathRule[]): Promise<DoctorCheck[]> {
  const problems: DoctorCheck[] = [];
  let fine = 0;
  for (const rule of rules) {
    const st = await (rule.follow ? stat(rule.path) : lstat(rule.path)).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : err));
    if (st === undefined) continue; // not made yet (an agent never started, a log not written yet)
    const q = shellQuote(rule.path);
    if (st instanceof Error) {
      problems.push(check('fail', 'files', scope, rule.path, `cannot be inspected: ${st.code ?? st.message}`, `check the permissions of the folders above ${q}`));
      continue;
    }
    if (st.isSymbolicLink()) {
      problems.push(check('fail', 'files', scope, rule.path, `is a symbolic link; fleetd only uses the real ${rule.kind === 'dir' ? 'folder' : 'file'} it made and writes nothing through a link`, `move the link away (ls -l ${q} shows where it points) and \`fleetctl restart agent\``));
      continue;
    }
    const kindOk = rule.kind === 'dir' ? st.isDirectory() : rule.kind === 'file' ? st.isFile() : st.isSocket();
    if (!kindOk) {
      problems.push(check('fail', 'files', scope, rule.path, `is not a ${rule.kind === 'dir' ? 'folder' : rule.kind}`, `move it away; fleetd makes it again`));
      continue;
    }
    const mode = st.mode & 0o777;
    let ok = true;
    if (mode !== rule.mode && mode !== rule.alsoMode) {
      ok = false;
      const loose = (mode & ~(rule.mode | (rule.alsoMode ?? 0))) !== 0;
      const expected = rule.alsoMode === undefined ? octal(rule.mode) : `${octal(rule.mode)} (or ${octal(rule.alsoMode)})`;
      problems.push(
        check(loose ? 'fail' : 'warn', 'files', scope, rule.path, `mode ${octal(mode)}, expected ${expected}${loose ? ': others may read or change what only its owner should' : ''}`, `chmod ${octal(rule.mode)} ${q}`),
      );
    }
    if (st.uid !== rule.uid) {
      ok = false;
      problems.push(check('fail', 'files', scope, rule.path, `owned by uid ${st.uid}, expected uid ${rule.uid}`, `chown ${rule.uid} ${q}`));
    }
    if (ok) fine += 1;
  }
  if (problems.length > 0) return problems;
  return [check('ok', 'files', scope, 'files and folders', `${fine} paths at their modes and owner`)];
}
