// Entry of the per-agent shim: `node dist/shim/main.js`, started detached by fleetd with
// the launch spec on stdin. It prints one ready line on stdout (then never writes there
// again), writes its own trouble to stderr (fleetd points that at <runDir>/shim.err),
// and exits once its gateway has ended and the exit is recorded: 0 then, 1 when it could
// not start (bad spec, run dir held by another shim...). Signals are ignored from the
// very first instant, before the rest of the shim is even loaded.
import { ignoreSignals } from './signals.js';

ignoreSignals();

const { readSpec } = await import('./read-spec.js');
const { runShim } = await import('./run.js');
const { encodeLine } = await import('./protocol.js');

// fleetd reads the ready line and goes; nobody may ever read stdout or stderr again.
process.stdout.on('error', () => undefined);
process.stderr.on('error', () => undefined);

/** Writes the one ready line and closes stdout. */
function ready(line: object): void {
  process.stdout.end(encodeLine(line));
}

/** A line on the shim's own stderr (shim.err). */
function warn(text: string): void {
  process.stderr.write(`[shim ${new Date().toISOString()}] ${text}\n`);
}

let code = 1;
try {
  const read = await readSpec(process.stdin);
  if (!read.ok) {
    ready({ type: 'failed', code: 'spec', message: read.message });
  } else {
    process.title = `fleetd-shim ${read.spec.name}`;
    const exit = await runShim(read.spec, { ready, warn, now: () => Date.now() });
    code = exit === null ? 1 : 0;
  }
} catch (err) {
  warn(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  if (process.stdout.writable) ready({ type: 'failed', code: 'internal', message: err instanceof Error ? err.message : String(err) });
}
// The gateway's children may still hold its pipes open: leave without waiting for them.
process.exit(code);
