// Building and running the command of `fleetctl exec` / `fleetctl openclaw`: the agent's
// env (secrets read by fleetctl itself, as the caller), its home as cwd, run as its user,
// with stdin/stdout/stderr and the terminal inherited. While the command runs fleetctl
// ignores SIGINT and SIGQUIT (the terminal delivers them to the command, which is in the
// same foreground process group; fleetctl must outlive it to report its exit) and passes
// SIGTERM and SIGHUP on. The exit code is the command's, 128+N when signal N ended it.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { FleetError } from '../../errors.js';
import type { ExecSpec } from '../../protocol/operate-schemas.js';
import { readSecretEnv } from '../../secrets/read.js';
import type { SecretRef } from '../../secrets/refs.js';
import { planRunAs, SETPRIV_CANDIDATES, type RunAsPlan } from './run-as.js';

/** A ready-to-spawn command. */
export interface ExecLaunch {
  file: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
}

/** Caller variables a terminal session needs (colours, width handling); nothing else of the caller's env passes. */
export const TERMINAL_ENV = ['TERM', 'COLORTERM', 'NO_COLOR'] as const;

/** The argv of `fleetctl openclaw ARGS`: the runtime's node and entry, else `openclaw` from the agent's PATH. */
export function openclawArgv(spec: ExecSpec, args: readonly string[]): string[] {
  return spec.runtime ? [spec.runtime.node, spec.runtime.entry, ...args] : ['openclaw', ...args];
}

/** Builds the launch (pure): run-as prefix, env = agent env + secrets + terminal variables. */
export function buildLaunch(spec: ExecSpec, command: readonly string[], plan: Exclude<RunAsPlan, { kind: 'refuse' }>, secrets: Record<string, string>, callerEnv: Readonly<Record<string, string | undefined>>): ExecLaunch {
  const env: Record<string, string> = { ...spec.env, ...secrets };
  for (const name of TERMINAL_ENV) {
    const value = callerEnv[name];
    if (value !== undefined && !(name in env)) env[name] = value;
  }
  const argv = plan.kind === 'setpriv' ? [...plan.prefix, ...command] : [...command];
  return { file: argv[0]!, args: argv.slice(1), env, cwd: spec.cwd };
}

/** Everything run-time fleetctl needs to prepare a launch (injectable). */
export interface PrepareDeps {
  callerUid: number;
  callerEnv: Readonly<Record<string, string | undefined>>;
  findSetpriv?: () => string | undefined;
}

/** Plans the user switch and reads the secrets; REFUSED / SECRET_UNAVAILABLE before anything runs. */
export async function prepareLaunch(spec: ExecSpec, command: readonly string[], deps: PrepareDeps): Promise<ExecLaunch> {
  const findSetpriv = deps.findSetpriv ?? (() => SETPRIV_CANDIDATES.find((p) => existsSync(p)));
  const plan = planRunAs(deps.callerUid, spec.user, spec.address, deps.callerUid === 0 && deps.callerUid !== spec.user.uid ? findSetpriv() : undefined);
  if (plan.kind === 'refuse') throw new FleetError('REFUSED', plan.message);
  if (!existsSync(spec.cwd)) throw new FleetError('NOT_FOUND', `the home of ${spec.address} (${spec.cwd}) does not exist yet; it is made when the agent is first provisioned (\`fleetctl start agent ${spec.address}\`)`);
  const refs: Record<string, SecretRef> = {};
  const origin: Record<string, string> = {};
  const unresolved: string[] = [];
  for (const [name, secret] of Object.entries(spec.secrets)) {
    if (secret.path === null) unresolved.push(`env ${name} of ${spec.address} (${secret.ref}): fleetd runs without $CREDENTIALS_DIRECTORY, so it cannot say where the credential is`);
    else refs[name] = { file: secret.path };
    if (secret.origin) origin[name] = secret.origin;
  }
  if (unresolved.length > 0) throw new FleetError('SECRET_UNAVAILABLE', unresolved.join('\n'));
  const read = await readSecretEnv(refs, { address: spec.address, credentialsDir: undefined, origin, reader: `fleetctl (uid ${deps.callerUid})` });
  return buildLaunch(spec, command, plan, read.env, deps.callerEnv);
}

/** Signals fleetctl passes on to the command. */
const FORWARDED = ['SIGTERM', 'SIGHUP'] as const;

/** Runs the launch with the terminal inherited; resolves with the exit code (127: not found, 126: not executable). */
export function runInherited(launch: ExecLaunch, proc: NodeJS.Process = process): Promise<number> {
  return new Promise((resolve) => {
    const ignore = () => {};
    const forwarders = FORWARDED.map((signal) => [signal, () => child.kill(signal)] as const);
    const cleanup = () => {
      proc.off('SIGINT', ignore);
      proc.off('SIGQUIT', ignore);
      for (const [signal, fn] of forwarders) proc.off(signal, fn);
    };
    proc.on('SIGINT', ignore);
    proc.on('SIGQUIT', ignore);
    const child = spawn(launch.file, launch.args, { cwd: launch.cwd, env: launch.env, stdio: 'inherit' });
    for (const [signal, fn] of forwarders) proc.on(signal, fn);
    child.once('error', (err: NodeJS.ErrnoException) => {
      cleanup();
      const where = launch.env['PATH'] ? ` on the agent's PATH (${launch.env['PATH']})` : '';
      if (err.code === 'ENOENT') proc.stderr.write(`fleetctl: ${launch.file}: command not found${launch.file.includes('/') ? '' : where}\n`);
      else proc.stderr.write(`fleetctl: cannot run ${launch.file}: ${err.code ?? err.message}\n`);
      resolve(err.code === 'ENOENT' ? 127 : 126);
    });
    child.once('exit', (code, signal) => {
      cleanup();
      resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
    });
  });
}
