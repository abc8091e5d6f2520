// `openclaw doctor` run AS the agent: its clean environment (secret values read by fleetd,
// as for its gateway), its pinned runtime's node and openclaw, its home as working directory.
// Posture: `doctor --lint --json` (docs/cli/doctor/lint.md of OpenClaw 2026.9.6): read-only,
// never prompts, writes nothing, one JSON document
// `{ schemaVersion, ok, checksRun, checksSkipped, findings: [{ checkId, severity, message, path?, requirement?, fixHint? }] }`,
// exit 0 (no finding at or above warning), 1 (some), 2 (it could not run, with an error finding).
// Measured on a real agent: ~7 s wall, ~5 s CPU, ~580 MB RSS; it runs only when doctor is
// asked about one agent.
//
// Two findings are what fleetd does on purpose and become information: the gateway bound to
// loopback only (core/doctor/node-hosting-preconditions on gateway.bind), and the tokens
// fleetd writes into openclaw.json (core/doctor/security, config.plaintext_secrets, when
// every path listed is one fleetd manages). Hints naming `openclaw --profile <fleet>-<agent>`
// are given as `fleetctl openclaw <fleet>/<agent>`, the way to run them as the agent.
import { spawn } from 'node:child_process';
import type { DoctorCheck } from '../protocol/doctor-schemas.js';
import { redactText } from '../secrets/redact.js';
import { check } from './check.js';

/** The command to run and how (from the agent's exec spec). */
export interface OpenclawRun {
  address: string;
  /** argv: the runtime's node and openclaw.mjs (or `openclaw` from PATH), then the doctor arguments. */
  argv: string[];
  cwd: string;
  /** The complete environment (secret values included). */
  env: Record<string, string>;
  /** Values to redact from whatever is reported. */
  secrets: readonly string[];
  timeoutMs: number;
}

/** What the command did. */
export interface OpenclawResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** The doctor arguments. */
export const OPENCLAW_DOCTOR_ARGS = ['doctor', '--lint', '--json'] as const;

/** Largest output kept from the command (bytes per stream). */
const MAX_OUTPUT = 4 * 1024 * 1024;

/** Paths fleetd writes secrets to on purpose (its gateway token, the hooks token of a called agent). */
const FLEETD_SECRET_PATHS = new Set(['gateway.auth.token', 'hooks.token']);

/** Runs the command in its own process group; on timeout the whole group is killed. Never rejects. */
export function runCommand(run: OpenclawRun): Promise<OpenclawResult> {
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outSize = 0;
    let errSize = 0;
    let timedOut = false;
    const child = spawn(run.argv[0]!, run.argv.slice(1), { cwd: run.cwd, env: run.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }, run.timeoutMs);
    child.stdout.on('data', (c: Buffer) => void ((outSize += c.length) <= MAX_OUTPUT && out.push(c)));
    child.stderr.on('data', (c: Buffer) => void ((errSize += c.length) <= MAX_OUTPUT && err.push(c)));
    child.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, stdout: '', stderr: `cannot run ${run.argv[0]}: ${e.code ?? e.message}`, timedOut: false });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), timedOut });
    });
  });
}

/** One finding of `openclaw doctor --lint --json`. */
interface Finding {
  checkId?: unknown;
  severity?: unknown;
  message?: unknown;
  path?: unknown;
  requirement?: unknown;
  fixHint?: unknown;
}

/** The JSON document in the output (the first `{` to the end), or undefined. */
function parseReport(stdout: string): { ok?: unknown; checksRun?: unknown; findings?: unknown } | undefined {
  const start = stdout.indexOf('{');
  if (start < 0) return undefined;
  try {
    const value = JSON.parse(stdout.slice(start)) as unknown;
    return value !== null && typeof value === 'object' ? (value as { findings?: unknown }) : undefined;
  } catch {
    return undefined;
  }
}

/** Why fleetd expects this finding, or undefined when it deserves the operator's eye. */
export function expectedUnderFleetd(f: Finding): string | undefined {
  if (f.checkId === 'core/doctor/node-hosting-preconditions' && f.path === 'gateway.bind') return 'fleetd binds every gateway to loopback on purpose';
  if (f.checkId === 'core/doctor/security' && f.requirement === 'config.plaintext_secrets' && typeof f.fixHint === 'string') {
    const m = /Paths:\s*([^\n]+)/.exec(f.fixHint);
    const paths = m ? m[1]!.split(',').map((p) => p.trim()).filter(Boolean) : [];
    if (paths.length > 0 && paths.every((p) => FLEETD_SECRET_PATHS.has(p))) return `fleetd writes ${paths.join(', ')} into openclaw.json (mode 0600) itself`;
  }
  return undefined;
}

/** The findings as checks (scope: the agent), plus one summary check. */
export function findingsToChecks(address: string, result: OpenclawResult, secrets: readonly string[]): DoctorCheck[] {
  const [fleet, agent] = address.split('/');
  const clean = (text: string) => redactText(text, secrets).split(`openclaw --profile ${fleet}-${agent}`).join(`fleetctl openclaw ${address}`);
  const title = 'openclaw doctor';
  const rerun = `fleetctl openclaw ${address} doctor`;
  if (result.timedOut) return [check('warn', 'openclaw-doctor', address, title, 'did not finish in time and was stopped', rerun)];
  const report = parseReport(result.stdout);
  if (!report || !Array.isArray(report.findings)) {
    const tail = clean(`${result.stderr}\n${result.stdout}`).trim().split('\n').slice(-5).join(' | ');
    return [check('warn', 'openclaw-doctor', address, title, `gave no report (exit ${result.code ?? result.signal}): ${tail || 'no output'}`, rerun)];
  }
  const checks: DoctorCheck[] = [];
  let expected = 0;
  for (const f of report.findings as Finding[]) {
    const id = typeof f.checkId === 'string' ? f.checkId : 'unknown';
    const message = clean(typeof f.message === 'string' ? f.message : JSON.stringify(f));
    const at = typeof f.path === 'string' ? ` (${f.path})` : '';
    const why = expectedUnderFleetd(f);
    if (why) {
      expected += 1;
      checks.push(check('info', 'openclaw-doctor', address, `openclaw: ${id}`, `${message}${at}; expected: ${why}`));
      continue;
    }
    const level = f.severity === 'error' ? 'fail' : f.severity === 'warning' ? 'warn' : 'info';
    checks.push(check(level, 'openclaw-doctor', address, `openclaw: ${id}`, `${message}${at}`, typeof f.fixHint === 'string' ? clean(f.fixHint) : null));
  }
  const run = typeof report.checksRun === 'number' ? `${report.checksRun} checks run, ` : '';
  const found = (report.findings as unknown[]).length;
  checks.unshift(check('ok', 'openclaw-doctor', address, title, `ran as the agent (\`${OPENCLAW_DOCTOR_ARGS.join(' ')}\`): ${run}${found} finding(s)${expected > 0 ? `, ${expected} of them expected under fleetd` : ''}`));
  return checks;
}

/** Runs `openclaw doctor --lint --json` as the agent and turns its findings into checks. */
export async function checkOpenclawDoctor(run: OpenclawRun, runner: (run: OpenclawRun) => Promise<OpenclawResult> = runCommand): Promise<DoctorCheck[]> {
  return findingsToChecks(run.address, await runner(run), run.secrets);
}
