// /startupz of one gateway with the facts a reconfigure needs: its state and, for a local
// caller, `uptimeMs` (OpenClaw 2026.9.6 answers 127.0.0.1 with
// `{"ok":true,"status":"started","version":"2026.9.6","uptimeMs":6520}`; 503 with
// "starting" or "draining" otherwise; docs/gateway/health.md). The uptime restarts from 0
// when the gateway restarts in-process on the same pid, which is how fleetd tells an
// in-process restart from a hot reload. Never throws.
import { httpGet, type HttpGet } from './probe.js';

/** What /startupz said. */
export interface StartupState {
  state: 'started' | 'starting' | 'draining' | 'absent' | 'no-answer';
  /** ms since the gateway (re)started, when it said (null otherwise). */
  uptimeMs: number | null;
  /** For people: the status and OpenClaw's pendingReason, or why there was no answer. */
  detail: string;
}

/** Asks /startupz of the gateway on `port`. */
export type StartupProbe = (port: number, timeoutMs: number) => Promise<StartupState>;

/** Reads a /startupz answer (status code and body). */
export function parseStartupAnswer(status: number, body: string): StartupState {
  if (status === 404) return { state: 'absent', uptimeMs: null, detail: '/startupz answered 404 (this gateway has no startup probe)' };
  let parsed: { status?: unknown; uptimeMs?: unknown; pendingReason?: unknown } = {};
  try {
    const value = JSON.parse(body) as unknown;
    if (value !== null && typeof value === 'object') parsed = value as typeof parsed;
  } catch {
    // not JSON: judged by the status code alone
  }
  const uptimeMs = typeof parsed.uptimeMs === 'number' && Number.isFinite(parsed.uptimeMs) && parsed.uptimeMs >= 0 ? parsed.uptimeMs : null;
  const text = typeof parsed.status === 'string' ? parsed.status : undefined;
  const pending = typeof parsed.pendingReason === 'string' && parsed.pendingReason ? ` (${parsed.pendingReason})` : '';
  if (status === 200) return { state: 'started', uptimeMs, detail: `/startupz: ${text ?? 'started'}` };
  if (status === 503) return { state: text === 'draining' ? 'draining' : 'starting', uptimeMs, detail: `/startupz: ${text ?? 'starting'}${pending}` };
  return { state: 'no-answer', uptimeMs: null, detail: `/startupz answered ${status}` };
}

/** Builds a StartupProbe on `get` (default node:http, a fresh connection each time). */
export function createStartupProbe(get: HttpGet = httpGet, host = '127.0.0.1'): StartupProbe {
  return async (port, timeoutMs) => {
    try {
      const answer = await get(`http://${host}:${port}/startupz`, { signal: AbortSignal.timeout(timeoutMs) });
      return parseStartupAnswer(answer.status, answer.body);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = (err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError' ? `no answer within ${timeoutMs} ms` : (code ?? (err as Error).message);
      return { state: 'no-answer', uptimeMs: null, detail: `/startupz: ${why}` };
    }
  };
}

/** The default startup probe (node:http on 127.0.0.1). */
export const probeStartup: StartupProbe = createStartupProbe();
