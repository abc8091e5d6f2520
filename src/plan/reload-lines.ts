// What a gateway's output says about a config reload (pure). The lines are OpenClaw
// 2026.9.6's own (src/gateway/server-reload-*.ts, seen on a real gateway whose openclaw.json
// was edited while it ran; captured stdout/stderr, e.g.
// `2026-12-01T04:00:16.604+00:00 [reload] config hot reload applied (agents.defaults.model)`):
//   [reload] config change detected; evaluating reload (<paths>)      every valid edit
//   [reload] config hot reload applied (<paths>)                      applied in place
//   [reload] config change requires gateway restart (<paths>) — preparing | — deferring until ...
//   [gateway] received SIGUSR2; restarting / restart mode: in-process restart (OPENCLAW_NO_RESPAWN)
//   [gateway] ready                                                   (re)start finished
//   [reload] config reload skipped (invalid config): <issues>         edit rejected, file left as is
//   [reload] config reload disabled (gateway.reload.mode=off)
//   [reload] gateway restart recovery unavailable; restart-required reload rejected (and kin)
//   [reload] config reload failed: <error> / config hot reload failed ... / config restart failed: ...
// A change whose paths need no reload action logs only the first line.

/** One fact about a reload, read from one line of output. */
export type ReloadSignal =
  | { kind: 'detected'; paths: string[] }
  | { kind: 'applied'; paths: string[] }
  | { kind: 'restart-required'; paths: string[]; deferred: boolean }
  | { kind: 'restarting' }
  | { kind: 'ready' }
  | { kind: 'rejected'; detail: string }
  | { kind: 'disabled' }
  | { kind: 'restart-refused'; detail: string }
  | { kind: 'failed'; detail: string };

// Colour codes, in case a gateway writes them to a pipe anyway.
const ANSI = /\u001b\[[0-9;]*m/g;

/** Splits `a, b.c` (OpenClaw's path list) into paths. */
function pathList(text: string): string[] {
  return text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
}

/** The reload fact a line carries, or undefined for any other line. */
export function parseReloadLine(raw: string): ReloadSignal | undefined {
  const line = raw.replace(ANSI, '').trimEnd();
  let m: RegExpExecArray | null;
  if ((m = /config change detected; evaluating reload \((.*)\)$/.exec(line))) return { kind: 'detected', paths: pathList(m[1]!) };
  if ((m = /config hot reload applied \((.*)\)$/.exec(line))) return { kind: 'applied', paths: pathList(m[1]!) };
  if ((m = /config change requires gateway restart \((.*?)\)(?:\s+\S+\s+(preparing|deferring\b.*))?$/.exec(line))) {
    return { kind: 'restart-required', paths: pathList(m[1]!), deferred: (m[2] ?? '').startsWith('deferring') };
  }
  if (/\[gateway\] (?:received SIGUSR2; restarting|restart mode: in-process restart)/.test(line)) return { kind: 'restarting' };
  if (/\[gateway\] ready$/.test(line)) return { kind: 'ready' };
  if ((m = /config reload skipped \(invalid config\):?\s*(.*)$/.exec(line))) return { kind: 'rejected', detail: m[1]!.replace(/^:\s*/, '') || 'invalid config' };
  if (/config reload disabled \(gateway\.reload\.mode=off\)/.test(line)) return { kind: 'disabled' };
  if ((m = /(restart-required reload rejected|gateway restart recovery handler unavailable; restart skipped|config reload requires a managed gateway restart owner for .*)$/.exec(line))) {
    return { kind: 'restart-refused', detail: m[1]! };
  }
  if ((m = /config reload skipped \(config file not found\)/.exec(line))) return { kind: 'failed', detail: 'the gateway found no config file' };
  if ((m = /(config (?:hot )?reload failed.*|config restart failed: .*|config hot reload committed with unrecovered .*)$/.exec(line))) return { kind: 'failed', detail: m[1]! };
  return undefined;
}
