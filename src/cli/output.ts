// The two shapes of fleetctl output: one JSON document for --json, lines for people;
// and the error report: `fleetctl: message` on stderr, or with --json the JSON error
// document on stdout and nothing on stderr (the rule is in run.ts).
import { FleetError, toFleetError, type ErrorCode } from '../errors.js';
import type { CliIo } from './context.js';

/** Prints one JSON document (pretty, newline-terminated) on stdout. */
export function printJson(io: CliIo, value: unknown): void {
  io.out(`${JSON.stringify(value, null, 2)}\n`);
}

/** Prints one value as one line of JSON (an NDJSON record). */
export function printJsonLine(io: CliIo, value: unknown): void {
  io.out(`${JSON.stringify(value)}\n`);
}

/** Prints lines on stdout. */
export function printLines(io: CliIo, lines: readonly string[]): void {
  if (lines.length) io.out(`${lines.join('\n')}\n`);
}

/** Prints a diagnostic line on stderr. */
export function note(io: CliIo, text: string): void {
  io.err(`${text}\n`);
}

/** The JSON error document of --json mode, the same shape as fleetd's error bodies. */
export function errorDocument(code: ErrorCode, message: string, details?: unknown): { error: { code: ErrorCode; message: string; details?: unknown } } {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

/** Reports a failure: `fleetctl: message` on stderr, or with --json the JSON error document on stdout only. */
export function reportError(io: CliIo, err: unknown, json: boolean, alreadyShown = false): FleetError {
  const error = toFleetError(err);
  // one line: parseable by readers of a JSON document and of an NDJSON stream alike
  if (json) printJsonLine(io, errorDocument(error.code, error.message, error.details));
  else if (!alreadyShown) {
    note(io, `fleetctl: ${error.message}`);
    // not a FleetError: nothing classified it, so it is a bug in fleetctl; where it came from helps its report
    if (!(err instanceof FleetError) && err instanceof Error && err.stack) note(io, `(a bug, not an error fleetd or its CLI classified: please report it with this trace)\n${err.stack}`);
  }
  return error;
}
