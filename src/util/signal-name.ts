// A signal's name from its number (Linux numbering, from node:os constants): a wait status
// read from /proc or a C program's report gives numbers, fleetd's records and messages names.
import { constants } from 'node:os';

const NAMES = new Map<number, NodeJS.Signals>(Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]));

/** The name of signal `n` (e.g. 9 -> "SIGKILL"); null for a number this platform does not name. */
export function signalName(n: number): NodeJS.Signals | null {
  return NAMES.get(n) ?? null;
}
