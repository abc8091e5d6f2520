// Client-side checks of the ids typed on the command line, done before any connection
// so that a typo is a usage error (exit 2), not a round trip to fleetd.
import { FleetError } from '../errors.js';
import { ID_RULE, isValidId, parseAddress, RUNTIME_KEY_PATTERN } from '../manifest/ids.js';

/** Parses `FLEET/AGENT`, or throws a USAGE error that states the id rule. */
export function requireAddress(text: string): { fleet: string; agent: string } {
  const parsed = parseAddress(text);
  if (parsed) return parsed;
  throw new FleetError('USAGE', `${JSON.stringify(text)} is not an agent address: expected FLEET/AGENT, each id ${ID_RULE}`);
}

/** Checks a fleet id, or throws a USAGE error that states the id rule. */
export function requireFleet(text: string): string {
  if (isValidId(text)) return text;
  throw new FleetError('USAGE', `${JSON.stringify(text)} is not a fleet id: expected ${ID_RULE}`);
}

/** A status filter: a whole fleet, or one agent of it. */
export interface StatusFilter {
  fleet: string;
  agent?: string;
}

/** Parses the `FLEET[/AGENT]` filter of `fleetctl status`. */
export function parseFilter(text: string): StatusFilter {
  return text.includes('/') ? requireAddress(text) : { fleet: requireFleet(text) };
}

/** Checks a runtime: an exact OpenClaw version such as 2026.9.6, optionally with its Node pinned (2026.9.6+node-24.21.0). */
export function requireVersion(text: string): string {
  if (RUNTIME_KEY_PATTERN.test(text)) return text;
  throw new FleetError('USAGE', `${JSON.stringify(text)} is not an exact OpenClaw version: expected e.g. 2026.9.6 or 2026.10.1-beta.2 (a pinned Node: 2026.9.6+node-24.21.0)`);
}
