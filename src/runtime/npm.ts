// Running npm for the installer: the real default runner (execa, no inherited env) and
// the clean environment every npm call gets. npm's own failures become RUNTIME_FAILED
// with the tail of npm's stderr, which is where npm says what went wrong.
import { delimiter } from 'node:path';
import { homedir } from 'node:os';
import type { ExecaError as ExecaErrorClass } from 'execa';
import { FleetError } from '../errors.js';
import type { NpmCall, NpmRunner } from './types.js';
import { firstUse } from '../util/first-use.js';

/** Lines of npm's stderr quoted in a RUNTIME_FAILED message. */
export const STDERR_TAIL_LINES = 12;

/** An install of ~840 MB on a slow link can take minutes; a hung npm must still end. */
const NPM_TIMEOUT_MS = 20 * 60_000;

// Variables worth keeping from the caller: identity, locale, temp dir, TLS trust and
// proxies, and the npm settings that say which registry and cache to use. Everything else
// (OPENCLAW_*, NODE_OPTIONS, systemd's INVOCATION_ID ...) stays out.
const KEEP = new Set([
  'USER', 'LOGNAME', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR',
  'NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'SSL_CERT_DIR',
  'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'ALL_PROXY',
  'NPM_CONFIG_REGISTRY', 'NPM_CONFIG_CACHE', 'NPM_CONFIG_USERCONFIG', 'NPM_CONFIG_GLOBALCONFIG',
  'NPM_CONFIG_PROXY', 'NPM_CONFIG_HTTPS_PROXY', 'NPM_CONFIG_NOPROXY', 'NPM_CONFIG_STRICT_SSL',
  'NPM_CONFIG_CAFILE', 'NPM_CONFIG_CA',
  'NPM_CONFIG_FETCH_RETRIES', 'NPM_CONFIG_FETCH_RETRY_MINTIMEOUT', 'NPM_CONFIG_FETCH_RETRY_MAXTIMEOUT', 'NPM_CONFIG_FETCH_TIMEOUT',
]);

/** The complete environment of an npm call: `nodeBinDir` first on PATH, HOME, and an allow-list of the caller's variables. */
export function buildNpmEnv(nodeBinDir: string, base: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(base)) {
    if (value !== undefined && KEEP.has(name.toUpperCase())) env[name] = value;
  }
  env.PATH = [nodeBinDir, base.PATH || '/usr/local/bin:/usr/bin:/bin'].join(delimiter);
  env.HOME = base.HOME || homedir();
  env.npm_config_update_notifier = 'false';
  env.npm_config_fund = 'false';
  env.npm_config_audit = 'false';
  return env;
}

/** The last `count` non-empty lines of `text`. */
export function tailLines(text: string, count = STDERR_TAIL_LINES): string {
  return text.split(/\r?\n/).filter((line) => line.trim() !== '').slice(-count).join('\n');
}

/** The default NpmRunner: runs `command` (npm, found through the call's PATH) with execa. */
export function createNpmRunner(command = 'npm'): NpmRunner {
  return async ({ args, cwd, env }: NpmCall) => {
    // loaded on first use: fleetd needs execa only while it installs a runtime
    const { execa, ExecaError } = await firstUse('installing a runtime', () => import('execa'));
    try {
      const result = await execa(command, args, {
        cwd,
        env,
        extendEnv: false,
        stdin: 'ignore',
        timeout: NPM_TIMEOUT_MS,
        maxBuffer: 64 * 1024 * 1024,
      });
      return result.stdout;
    } catch (err) {
      throw npmError(command, args, err, ExecaError);
    }
  };
}

// npm's own error codes (its `code` field: `npm error code E404` on stderr, `error.code` in
// --json output) that no retry can fix: the package, version or platform does not exist, or
// the registry refuses us. Every other npm failure (network, registry 5xx, disk full, a
// timeout, a code we do not know) is retried with backoff: an unattended fleet should heal
// by itself when the registry comes back, and a retry is cheap.
const PERMANENT_NPM_CODES = new Set(['E404', 'ETARGET', 'EBADPLATFORM', 'ENOTSUP', 'EINVALIDTAGNAME', 'EINVALIDPACKAGENAME', 'EUNSUPPORTEDPROTOCOL', 'E401', 'E403', 'ENEEDAUTH']);

/** npm's error code from its stderr (`npm error code X`, older `npm ERR! code X`) or --json stdout; undefined when it printed none. */
export function npmErrorCode(stdout: string, stderr: string): string | undefined {
  const line = /^npm (?:error|ERR!) code (\S+)\s*$/m.exec(stderr);
  if (line) return line[1];
  try {
    const parsed = JSON.parse(stdout.trim()) as { error?: { code?: unknown } };
    if (typeof parsed.error?.code === 'string') return parsed.error.code;
  } catch {
    // not JSON: no code
  }
  return undefined;
}

/** Turns a failed npm run into RUNTIME_FAILED with what npm printed last, classified by npm's error code. */
function npmError(command: string, args: string[], err: unknown, ExecaError: typeof ExecaErrorClass): FleetError {
  const what = `npm ${args.join(' ')}`;
  if (err instanceof ExecaError) {
    if (err.code === 'ENOENT') {
      return new FleetError('RUNTIME_FAILED', `${what}: cannot run "${command}" (not found on PATH); install npm or put it on fleetd's PATH`, { cause: err });
    }
    const stderr = typeof err.stderr === 'string' ? err.stderr : '';
    const npmCode = npmErrorCode(typeof err.stdout === 'string' ? err.stdout : '', stderr);
    const tail = tailLines(stderr);
    const how = err.timedOut ? `timed out after ${NPM_TIMEOUT_MS / 60_000} min` : err.exitCode !== undefined ? `exit ${err.exitCode}` : err.shortMessage;
    return new FleetError('RUNTIME_FAILED', `${what} failed (${how})${tail ? `:\n${tail}` : ''}`, {
      cause: err,
      details: { exitCode: err.exitCode ?? null, stderrTail: tail, npmCode: npmCode ?? null },
      transient: npmCode === undefined || !PERMANENT_NPM_CODES.has(npmCode),
    });
  }
  return new FleetError('RUNTIME_FAILED', `${what} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err, transient: true });
}

/** True when a RUNTIME_FAILED from the npm runner carries npm's "no such package or version" code. */
export function isNpmNotFound(err: unknown): boolean {
  if (!(err instanceof FleetError)) return false;
  const code = (err.details as { npmCode?: unknown } | undefined)?.npmCode;
  return code === 'E404' || code === 'ETARGET';
}

/** Parses the JSON that `npm view ... --json` printed; RUNTIME_FAILED when it is not JSON. */
export function parseNpmJson(stdout: string, what: string): unknown {
  const text = stdout.trim();
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new FleetError('RUNTIME_FAILED', `${what}: npm printed something that is not JSON: ${text.slice(0, 200)}`, { cause: err });
  }
}
