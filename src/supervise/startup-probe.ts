// /startupz of one gateway with the facts a reconfigure needs: its state and, for a local
// caller, `uptimeMs` (OpenClaw 2026.9.6 answers 127.0.0.1 with
// `{"ok":true,"status":"started","version":"2026.9.6","uptimeMs":6520}`; 503 with
// "starting" or "draining" otherwise; docs/gateway/health.md). The uptime restarts from 0
// when the gateway restarts in-process on the same pid, which is how fleetd tells an
// in-process restart from a hot reload. The answer is read by probe.ts parseStartup (the
// runner's probe reads it the same way). Never throws.
import { httpGet, parseStartup, type HttpGet, type StartupAnswer } from './probe.js';

/** What /startupz said, with the uptime (null when it did not say). */
export interface StartupState extends Omit<StartupAnswer, 'uptimeMs'> {
  uptimeMs: number | null;
}

/** Asks /startupz of the gateway on `port`. */
export type StartupProbe = (port: number, timeoutMs: number) => Promise<StartupState>;

/** Builds a StartupProbe on `get` (default: the probes' GET, a fresh connection each time). */
export function createStartupProbe(get: HttpGet = httpGet, host = '127.0.0.1'): StartupProbe {
  return async (port, timeoutMs) => {
    let reply: Parameters<typeof parseStartup>[0];
    try {
      reply = { answer: await get(`http://${host}:${port}/startupz`, { signal: AbortSignal.timeout(timeoutMs) }) };
    } catch (err) {
      const name = (err as Error).name;
      reply = { error: name === 'TimeoutError' || name === 'AbortError' ? `no answer within ${timeoutMs} ms` : ((err as NodeJS.ErrnoException).code ?? (err as Error).message) };
    }
    const { uptimeMs, ...answer } = parseStartup(reply);
    return { ...answer, uptimeMs: answer.state === 'no-answer' ? null : (uptimeMs ?? null) };
  };
}

/** The default startup probe (127.0.0.1). */
export const probeStartup: StartupProbe = createStartupProbe();
