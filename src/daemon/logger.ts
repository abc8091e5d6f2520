// fleetd's own log: pino JSON lines on stdout (systemd's journal takes them), or short
// human-readable lines when stdout is a terminal. Secrets are redacted by key as a last
// line of defence; code never passes a token to the logger in the first place.
import { pino, type Logger, type DestinationStream } from 'pino';

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

/** Creates fleetd's root logger; children carry `{ agent }`. */
export function createLogger(options: { pretty?: boolean; level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const out = options.destination ?? process.stdout;
  const pretty = options.pretty ?? Boolean((out as NodeJS.WriteStream).isTTY);
  const destination: DestinationStream = pretty
    ? { write: (line: string) => void out.write(formatPretty(line)) }
    : { write: (line: string) => void out.write(line) };
  return pino(
    {
      level: options.level ?? process.env.FLEETD_LOG_LEVEL ?? 'info',
      base: null, // the journal records fleetd's pid; `pid` in a line is always a gateway's
      redact: { paths: REDACT_PATHS, censor: '<redacted>' },
    },
    destination,
  );
}

/** The logger type passed around fleetd. */
export type { Logger };
