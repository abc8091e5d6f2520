// Running one OpenClaw CLI command of an EXACT runtime (its own node and entry, never an
// `openclaw` found on PATH), with a complete environment built by the caller, a bounded
// time, and its JSON answer read back. Used by the capability probes, the restart-handoff
// consumer and the database preflight. A nonzero exit is an answer, not a throw: several
// machine commands report refusals with exit 1 or 2 and a JSON body.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { FleetError } from '../errors.js';
import type { Runtime } from './types.js';
import { firstUse } from '../util/first-use.js';

/** CLI cold start on a loaded 2-core host can take several seconds; a hung CLI must still end (OpenClaw asks supervisors to allow for cold starts). */
export const DEFAULT_CLI_TIMEOUT_MS = 60_000;

/** What ran and how it ended. */
export interface CliResult {
  /** null when it was killed (timeout) or died of a signal. */
  exitCode: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** One command: argv after `openclaw`, with the complete environment (nothing inherited). */
export interface CliCall {
  runtime: Pick<Runtime, 'node' | 'entry'>;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  timeoutMs?: number;
}

/** Runs a CLI call; rejects only when it cannot be started. */
export type CliRunner = (call: CliCall) => Promise<CliResult>;

/** The real CliRunner: `<runtime node> <entry> ...args` through execa, stdin closed. */
export const runOpenclaw: CliRunner = async (call) => {
  // loaded on first use (capability probes, handoffs, preflights): not kept in an idle fleetd's memory
  const { execa, ExecaError } = await firstUse('running an OpenClaw command', () => import('execa'));
  try {
    const result = await execa(call.runtime.node, [call.runtime.entry, ...call.args], {
      cwd: call.cwd,
      env: call.env,
      extendEnv: false,
      stdin: 'ignore',
      reject: false,
      timeout: call.timeoutMs ?? DEFAULT_CLI_TIMEOUT_MS,
      killSignal: 'SIGKILL',
      maxBuffer: 16 * 1024 * 1024,
    });
    if (result.failed && result.exitCode === undefined && !result.timedOut && result.signal === undefined) {
      throw new FleetError('RUNTIME_FAILED', `cannot run ${call.runtime.node}: ${result.shortMessage}`);
    }
    return { exitCode: result.exitCode ?? null, stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? ''), timedOut: result.timedOut };
  } catch (err) {
    if (err instanceof FleetError) throw err;
    const message = err instanceof ExecaError ? err.shortMessage : (err as Error).message;
    throw new FleetError('RUNTIME_FAILED', `cannot run ${call.runtime.node} ${call.runtime.entry}: ${message}`, { cause: err });
  }
};

/** The JSON document a `--json` command printed (the last top-level object on stdout); undefined when there is none. */
export function parseCliJson(stdout: string): unknown {
  const text = stdout.trim();
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // a banner or warning line before the document: take the last line that opens an object
    const lines = text.split('\n');
    for (let i = lines.length - 1; i >= 0; i--) {
      if (!lines[i]!.startsWith('{')) continue;
      try {
        return JSON.parse(lines.slice(i).join('\n')) as unknown;
      } catch {
        // keep looking further up
      }
    }
    return undefined;
  }
}

/** The last line of what a command printed, for error messages (bounded). */
export function lastOutputLine(result: CliResult): string {
  const line = `${result.stderr}\n${result.stdout}`.split('\n').map((l) => l.trim()).filter(Boolean).at(-1) ?? '';
  return line.length > 300 ? `${line.slice(0, 300)}...` : line;
}

// Probes and preflights must never touch an agent's state (a TARGET runtime could migrate
// it): they run in a private, empty OpenClaw home of their own, deleted afterwards.
/** Runs `fn` with the complete environment of a throwaway OpenClaw home (0700 under the temp dir). */
export async function withScratchHome<T>(runtime: Pick<Runtime, 'node'>, fn: (env: Record<string, string>, cwd: string) => Promise<T>, base: NodeJS.ProcessEnv = process.env): Promise<T> {
  const dir = await mkdtemp(join(base.TMPDIR || tmpdir(), 'fleetd-openclaw-'));
  try {
    const state = join(dir, '.openclaw');
    const env: Record<string, string> = {
      PATH: `${dirname(runtime.node)}:/usr/local/bin:/usr/bin:/bin`,
      HOME: dir,
      OPENCLAW_HOME: dir,
      OPENCLAW_STATE_DIR: state,
      OPENCLAW_CONFIG_PATH: join(state, 'openclaw.json'),
      XDG_CACHE_HOME: join(dir, '.cache'),
      TMPDIR: dir,
      OPENCLAW_SUPERVISOR_MODE: 'external',
      OPENCLAW_NO_RESPAWN: '1',
      NODE_ENV: 'production',
    };
    if (base.LANG) env.LANG = base.LANG;
    return await fn(env, dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
