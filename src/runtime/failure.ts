import { FleetError } from '../errors.js';

// A runtime install can fail for good (no such version, no Node for this platform) or for
// now (registry unreachable, disk full, a lock held too long). Only the second is retried.
const PERMANENT = /\b(E404|ETARGET|No matching version|is not (in|on) (the npm|this) registry|404 Not Found)\b/i;

/** True when installing again cannot help without a change to the manifest or the machine. */
export function isPermanentRuntimeError(err: unknown): boolean {
  if (err instanceof FleetError && (err.code === 'UNSUPPORTED_PLATFORM' || err.code === 'USAGE')) return true;
  if (err instanceof FleetError && (err.details as { permanent?: unknown } | undefined)?.permanent === true) return true;
  const message = err instanceof Error ? err.message : String(err);
  return PERMANENT.test(message);
}
