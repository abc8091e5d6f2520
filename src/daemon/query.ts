// Query-string options of the control routes: booleans are 1/true or 0/false, anything
// else is a BAD_REQUEST naming the option.
import { FleetError } from '../errors.js';

/** Parses a boolean query option; absent means `fallback`. */
export function parseFlag(name: string, value: string | null, fallback = false): boolean {
  if (value === null) return fallback;
  if (value === '1' || value === 'true') return true;
  if (value === '0' || value === 'false') return false;
  throw new FleetError('BAD_REQUEST', `${name} must be 1 or 0, found ${JSON.stringify(value.slice(0, 40))}`);
}
