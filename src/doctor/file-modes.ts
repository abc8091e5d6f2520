// Doctor: the files and folders fleetd made are still what it made them: real (no symlink in
// their place), of the right kind, owned by the right user, at the right mode. An agent's
// home and fleetd's own folder for it are 0700, openclaw.json, the captured logs and the
// last-applied record 0600; the state dir 0700, registry.json 0600, the socket 0600 (0660
// with socketGroup). Each problem is one check whose next step is the command that fixes it.
import { lstat, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { DoctorCheck } from '../protocol/doctor-schemas.js';
import { agentPaths } from '../provision/home.js';
import { check, shellQuote } from './check.js';

/** What one path must be. */
export interface PathRule {
  path: string;
  kind: 'dir' | 'file' | 'socket';
  /** Permission bits wanted, exactly. */
  mode: number;
  /** Owner wanted. */
  uid: number;
  /** Follow a symlink at this path (the state dir may be one the operator chose); default false. */
  follow?: boolean;
}

/** The rules for one agent's home and fleetd's folder of it (files that do not exist yet are skipped). */
export async function agentPathRules(stateDir: string, fleet: string, agent: string, uid: number): Promise<PathRule[]> {
  const p = agentPaths(stateDir, fleet, agent);
  const dirs = [join(stateDir, 'fleets', fleet), p.home, p.openclawDir, p.workspace, p.logsDir, p.cacheDir, p.tmpDir, join(stateDir, 'agents', fleet), p.supervisorDir];
  const rules: PathRule[] = dirs.map((path) => ({ path, kind: 'dir', mode: 0o700, uid }));
  rules.push({ path: p.configPath, kind: 'file', mode: 0o600, uid }, { path: p.appliedConfig, kind: 'file', mode: 0o600, uid }, { path: p.logFile, kind: 'file', mode: 0o600, uid });
  const rotated = (await readdir(p.supervisorDir).catch(() => [] as string[])).filter((name) => /^gateway\.log\.\d+$/.test(name));
  for (const name of rotated.sort()) rules.push({ path: join(p.supervisorDir, name), kind: 'file', mode: 0o600, uid });
  return rules;
}

/** The rules for fleetd's own files: state dir, its two trees, registry, socket. */
export function fleetdPathRules(input: { stateDir: string; socket: string; socketGroup?: string | undefined; uid: number }): PathRule[] {
  const { stateDir, uid } = input;
  return [
    { path: resolve(stateDir), kind: 'dir', mode: 0o700, uid, follow: true },
    { path: join(stateDir, 'fleets'), kind: 'dir', mode: 0o700, uid },
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
    if (mode !== rule.mode) {
      ok = false;
      const loose = (mode & ~rule.mode) !== 0;
      problems.push(
        check(loose ? 'fail' : 'warn', 'files', scope, rule.path, `mode ${octal(mode)}, expected ${octal(rule.mode)}${loose ? ': others may read or change what only its owner should' : ''}`, `chmod ${octal(rule.mode)} ${q}`),
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
