// fleetd's own log: pino JSON lines on stdout (systemd's journal takes them), or short
// human-readable lines when stdout is a terminal. Secrets are redacted by key, and every
// line passes through redact.ts with the secrets fleetd knows (pieces included), as a
// last line of defence; code never passes a token to the logger in the first place.
// Lines go through a LogOutput, which never throws or blocks (log-output.ts).
import { pino, type Logger, type DestinationStream } from 'pino';
import { FleetError } from '../errors.js';
import { cachedMatcher, redactText, type SecretMatcher } from '../supervise/redact.js';
import { openLogOutput, type LogOutput } from './log-output.js';

/** Keys whose values never reach a log line. */
const REDACT_PATHS = ['token', '*.token', 'auth.token', '*.auth.token', 'gateway.auth.token', 'config.gateway.auth.token', 'env', '*.env'];

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** Turns one pino JSON line into `HH:MM:SS LEVEL [agent] msg key=value ...`. */
export function formatPretty(line: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { time, level, msg, agent, pid: _pid, hostname: _host, ...rest } = rec;
  const clock = typeof time === 'number' ? new Date(time).toISOString().slice(11, 19) : '';
  const lvl = (LEVEL_NAMES[level as number] ?? String(level)).padEnd(5);
  const who = agent ? ` [${String(agent)}]` : '';
  const extras = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${clock} ${lvl}${who} ${String(msg ?? '')}${extras ? ' ' + extras : ''}\n`;
}

/** Options of createLogger. */
export interface LoggerOptions {
  pretty?: boolean;
  level?: string;
  /** Stream the lines go to (default stdout); ignored when `output` is given. */
  destination?: NodeJS.WritableStream;
  /** Where lines go; default openLogOutput(destination). Its dropped() is status's `logDropped`. */
  output?: LogOutput;
  /** The secrets to scrub from every line, as a matcher made by secretMatcher (read per line), shared with whoever else redacts with it (fleetd's answers); absent: none. */
  matcher?: () => SecretMatcher;
}

/** Raw and JSON-escaped forms of a secret (a log line is JSON: a `"` or `\\` in a secret is escaped there). */
function withJsonForm(secret: string): readonly string[] {
  const escaped = JSON.stringify(secret).slice(1, -1);
  return escaped === secret ? [secret] : [secret, escaped];
}

// fleetd's log and its answers redact with the same secrets: one matcher serves both. Two
// (raw forms for the answers, raw and JSON-escaped for the log) held each secret's windows
// twice: a hash table of ~16,400 windows (256 KB of typed arrays at 200 agents) plus the
// secrets' sets and maps, ~300 KB in all. An answer matched against the JSON-escaped forms
// too redacts a little more, never less: an escaped form of a secret reveals the secret.
/** A matcher of `secrets` in their raw and JSON-escaped forms, following the list as it changes (cachedMatcher): for log lines (JSON text) and answers alike. */
export function secretMatcher(secrets: () => readonly string[]): () => SecretMatcher {
  return cachedMatcher(secrets, withJsonForm);
}

/** The levels fleetd's log takes (pino's), most verbose first; `silent` logs nothing. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/**
 * The log level: `flag` (`--log-level`), else FLEETD_LOG_LEVEL from `env`, else info. Throws a
 * USAGE FleetError naming where a level that is not one of LOG_LEVELS came from (pino's own
 * words for it, "default level:x must be included in custom levels", name neither).
 */
export function resolveLogLevel(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const [level, from] = flag !== undefined ? [flag, '--log-level'] : env.FLEETD_LOG_LEVEL ? [env.FLEETD_LOG_LEVEL, 'FLEETD_LOG_LEVEL'] : ['info', 'the default'];
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new FleetError('USAGE', `${from} must be one of ${LOG_LEVELS.join(', ')}, not ${JSON.stringify(level)}`);
  return level;
}

/** Creates fleetd's root logger; children carry `{ agent }`. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const stream = options.destination ?? process.stdout;
  const output = options.output ?? openLogOutput(stream);
  const pretty = options.pretty ?? Boolean((stream as NodeJS.WriteStream).isTTY);
  const matcher = options.matcher;
  const scrub = matcher ? (line: string) => redactText(line, matcher()) : (line: string) => line;
  const destination: DestinationStream = pretty
    ? { write: (line: string) => output.write(formatPretty(scrub(line))) }
    : { write: (line: string) => output.write(scrub(line)) };
  return pino(
    {
      level: options.level ?? resolveLogLevel(undefined),
      base: null, // the journal records fleetd's pid; `pid` in a line is always a gateway's
      redact: { paths: REDACT_PATHS, censor: '<redacted>' },
    },
    destination,
  );
}

/** The logger type passed around fleetd. */
export type { Logger };
export type { LogOutput };
