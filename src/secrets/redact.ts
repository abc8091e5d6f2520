// Keeping an agent's secrets out of what fleetd shows: the redaction set of an agent (its
// gateway token, its hooks token, the values of its secret files), redaction of text lines
// (OpenClaw's own log) and of a config tree (`fleetctl config show` / `config diff`).
// Text goes through the log sink's streaming redactor, the one module every writer uses
// (layout decision 4); a config tree is redacted by key, with the rule OpenClaw itself
// applies to its config (src/config/sensitive-paths.ts of 2026.9.6), and by value.
import { isPlainObject, type JsonObject } from '../plan/merge.js';
import { createRedactor, REDACTED } from '../supervise/log-sink.js';

export { REDACTED };

/** Pieces of a multi-line secret shorter than this are not redacted on their own (too common). */
const MIN_PIECE = 8;

/** What an agent's redaction set is built from. */
export interface AgentSecretSources {
  /** The gateway token. */
  token: string;
  /** The hooks token, once the agent has one (federation). */
  hooksToken?: string | undefined;
  /** Values read from the agent's secret files. */
  values?: readonly string[];
}

/** Every string that must never be shown for an agent: whole secrets, plus each line (8+ chars) of multi-line ones. */
export function agentSecrets(sources: AgentSecretSources): string[] {
  const out = new Set<string>();
  for (const value of [sources.token, sources.hooksToken, ...(sources.values ?? [])]) {
    if (!value) continue;
    out.add(value);
    if (/[\r\n]/.test(value)) for (const line of value.split(/\r?\n/)) if (line.trim().length >= MIN_PIECE) out.add(line.trim());
  }
  return [...out];
}

/** Redacts every occurrence of the secrets in one complete piece of text. */
export function redactText(text: string, secrets: readonly string[]): string {
  if (secrets.length === 0) return text;
  const redactor = createRedactor(secrets);
  return redactor.push(text) + redactor.end();
}

// OpenClaw's own rule (config/sensitive-paths.ts): a dotted path is sensitive when it matches
// one of these, unless it ends with one of the counters that merely contain "token".
const SENSITIVE_PATTERNS = [/token$/i, /password/i, /secret/i, /api.?key/i, /encrypt.?key/i, /private.?key/i, /serviceaccount(?:ref)?$/i];
const NOT_SENSITIVE_SUFFIXES = ['maxtokens', 'maxoutputtokens', 'maxinputtokens', 'maxcompletiontokens', 'contexttokens', 'totaltokens', 'tokencount', 'tokenlimit', 'tokenbudget', 'passwordfile'];

/** True when a config path holds a secret by its name (`gateway.auth.token`, `channels.telegram.botToken`). */
export function isSensitivePath(path: readonly string[]): boolean {
  const dotted = path.join('.');
  const lower = dotted.toLowerCase();
  if (lower.includes('localservice.env.')) return true;
  if (NOT_SENSITIVE_SUFFIXES.some((suffix) => lower.endsWith(suffix))) return false;
  return SENSITIVE_PATTERNS.some((pattern) => pattern.test(dotted));
}

/** Redacts one JSON value found at `path`: sensitive leaves become REDACTED, secret values inside strings too. */
export function redactJson(value: unknown, path: readonly string[], secrets: readonly string[]): unknown {
  if (Array.isArray(value)) return value.map((item, i) => redactJson(item, [...path, String(i)], secrets));
  if (isPlainObject(value)) {
    const out: JsonObject = {};
    for (const [key, child] of Object.entries(value)) {
      Object.defineProperty(out, key, { value: redactJson(child, [...path, key], secrets), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  if (value === null || value === undefined || typeof value === 'boolean') return value;
  if (isSensitivePath(path)) return REDACTED;
  if (typeof value === 'string') return redactText(value, secrets);
  return value;
}

/** Redacts a whole config (`fleetctl config show`). */
export function redactConfig(config: JsonObject, secrets: readonly string[]): JsonObject {
  return redactJson(config, [], secrets) as JsonObject;
}
