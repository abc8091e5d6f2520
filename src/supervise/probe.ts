// One probe round of a gateway on 127.0.0.1, the three endpoints OpenClaw documents
// (docs/gateway/health.md, docs/cli/gateway/restart-and-supervision.md): /healthz is
// liveness only, /startupz says whether startup has settled ("started"; 503 "starting" or
// "draining" otherwise), /readyz is readiness (channels, agent databases) with its failing
// list. A probe never throws: a refused connection, a timeout or a non-200 answer is an
// answer too. What a start needs (listener AND /startupz "started") is decided in
// plan/start-verdict.ts.
import { rawHttpGet } from './http-get.js';

/** What a fetch-like dependency returns: the status and the body text. */
export interface HttpAnswer {
  status: number;
  body: string;
}

/** fetch-like GET: resolves with status + body, rejects on network error or abort. */
export type HttpGet = (url: string, init: { signal: AbortSignal }) => Promise<HttpAnswer>;

/** What /startupz said: its status, 'absent' (404: not an OpenClaw that has it), or 'no-answer'. */
export interface StartupAnswer {
  state: 'started' | 'starting' | 'draining' | 'absent' | 'no-answer';
  /** For people: the status text and OpenClaw's pendingReason, or why there was no answer. */
  detail: string;
  /** ms since the gateway (re)started, when it said so (OpenClaw answers a local caller with it; 0 again after an in-process restart). */
  uptimeMs?: number;
}

/** Result of one probe round (liveness, startup and readiness together). */
export interface ProbeResult {
  /** /healthz answered 200. */
  live: boolean;
  /** /readyz answered 200 (true), 503 (false), or did not answer usefully (null). */
  ready: boolean | null;
  /** `failing` list of /readyz when not ready. */
  failing?: string[];
  /** Why the health probe failed, for logs and reasons ("timeout after 2000 ms", "ECONNREFUSED"). */
  error?: string;
  /** /healthz was refused (ECONNREFUSED: nothing listens on 127.0.0.1 at the port). */
  refused?: true;
  /** /startupz (absent from results of probes that do not ask it). */
  startup?: StartupAnswer;
}

// A round asks /readyz first. OpenClaw's 200 there comes from a gateway that answers, whose
// startup is complete and that is not draining (docs/gateway/health.md): the round is over,
// one connection. Refused (nothing listens on the port), the other two would be refused as
// well: over too. Any other answer (503 while it starts, channels failing; 404 from a gateway
// without /readyz; no answer in time) is followed by /healthz and /startupz at once, to say
// whether it is live and why it is not ready (starting, draining, absent).
//
// The rounds of a starting gateway asked all three at once before: three connections per
// probe, where a refused or ready gateway needs one. At N = 200 the start probes' connects
// and their callbacks were ~30 % of fleetd's main thread while the gateways came up (CPU
// profile of a first start, issue 14), and a booting OpenClaw is probed every 2 to 500 ms
// for its 4-9 s, mostly refused.
/** Probe function the runner depends on: one round, bounded by `timeoutMs` in all. */
export type ProbeFn = (port: number, timeoutMs: number) => Promise<ProbeResult>;

/** What a 200 from /readyz says (docs/gateway/health.md): the gateway answers (live), is ready, and ready implies started and not draining. */
function readyRound(): ProbeResult {
  return { live: true, ready: true, startup: { state: 'started', detail: '/readyz: ready (startup complete, not draining)' } };
}

/** One request's outcome (fetchBounded). */
interface Reply {
  answer?: HttpAnswer;
  error?: string;
  refused?: boolean;
}

/** Default HttpGet: a fresh connection per request, on node:net (supervise/http-get.ts). */
export const httpGet: HttpGet = rawHttpGet;

/** Builds a ProbeFn: /readyz, then (see above) /healthz and /startupz at once, all bounded by one timeout. */
export function createProbe(get: HttpGet = httpGet, host = '127.0.0.1'): ProbeFn {
  return async (port, timeoutMs) => {
    const base = `http://${host}:${port}`;
    // one timer bounds every request of the round
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    const ask = (path: string) => fetchBounded(get, `${base}${path}`, controller.signal, timeoutMs);
    try {
      const ready = await ask('/readyz');
      if (ready.answer?.status === 200) return readyRound();
      if (ready.refused) return judgeRound(ready, ready, parseStartup(ready));
      const [health, startup] = await Promise.all([ask('/healthz'), ask('/startupz')]);
      return judgeRound(health, ready, parseStartup(startup));
    } finally {
      clearTimeout(timer);
    }
  };
}

/** One probe round's result from its answers to /healthz, /readyz and /startupz. */
function judgeRound(health: Reply, ready: Reply, startup: StartupAnswer): ProbeResult {
  const result: ProbeResult = { live: health.answer?.status === 200, ready: null, startup };
  if (!result.live) result.error = health.error ?? `/healthz answered ${health.answer?.status}`;
  if (health.refused) result.refused = true;
  if (ready.answer && (ready.answer.status === 200 || ready.answer.status === 503)) {
    result.ready = ready.answer.status === 200;
    if (!result.ready) result.failing = parseFailing(ready.answer.body);
  }
  return result;
}

/** Reads a /startupz answer: 200 "started"; 503 "starting" or "draining" (with OpenClaw's pendingReason); 404 absent. */
export function parseStartup(reply: Reply): StartupAnswer {
  if (!reply.answer) return { state: 'no-answer', detail: `/startupz: ${reply.error ?? 'no answer'}` };
  const { status, body } = reply.answer;
  if (status === 404) return { state: 'absent', detail: '/startupz answered 404 (this gateway has no startup probe)' };
  let parsed: { status?: unknown; pendingReason?: unknown; uptimeMs?: unknown } = {};
  try {
    const value = JSON.parse(body) as unknown;
    if (value !== null && typeof value === 'object') parsed = value as typeof parsed;
  } catch {
    // not JSON: judged by the HTTP status alone
  }
  const text = typeof parsed.status === 'string' ? parsed.status : undefined;
  const pending = typeof parsed.pendingReason === 'string' && parsed.pendingReason ? ` (${parsed.pendingReason})` : '';
  const uptime = typeof parsed.uptimeMs === 'number' && Number.isFinite(parsed.uptimeMs) && parsed.uptimeMs >= 0 ? { uptimeMs: parsed.uptimeMs } : {};
  if (status === 200) return { state: 'started', detail: `/startupz: ${text ?? 'started'}`, ...uptime };
  if (status === 503) return { state: text === 'draining' ? 'draining' : 'starting', detail: `/startupz: ${text ?? 'starting'}${pending}`, ...uptime };
  return { state: 'no-answer', detail: `/startupz answered ${status}` };
}

/** The default probe (a fresh connection per request to 127.0.0.1). */
export const probeGateway: ProbeFn = createProbe();

/** One GET until `signal` aborts (after `timeoutMs`); never rejects. */
async function fetchBounded(get: HttpGet, url: string, signal: AbortSignal, timeoutMs: number): Promise<Reply> {
  try {
    return { answer: await get(url, { signal }) };
  } catch (err) {
    if (signal.aborted) return { error: `no answer within ${timeoutMs} ms` };
    const code = (err as NodeJS.ErrnoException).code;
    return { error: code ?? (err instanceof Error ? err.message : String(err)), refused: code === 'ECONNREFUSED' };
  }
}

/** Reads `failing` from a /readyz body; ['unknown'] when the body is not the expected JSON. */
function parseFailing(body: string): string[] {
  try {
    const parsed = JSON.parse(body) as { failing?: unknown };
    if (Array.isArray(parsed.failing)) return parsed.failing.map((f) => (typeof f === 'string' ? f : JSON.stringify(f)));
  } catch {
    // not JSON
  }
  return ['unknown'];
}
