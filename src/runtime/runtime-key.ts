// The identity of a runtime: an OpenClaw version, and the Node version when the manifest
// pins one (`gateway.node`). Written as one string, the runtime key, which names its
// folder, its lock and its entry in `fleetctl runtime list`:
//   2026.9.6                  OpenClaw 2026.9.6 with the Node fleetd chose when installing it
//   2026.9.6+node-24.21.0     OpenClaw 2026.9.6 on exactly Node 24.21.0
// `+` cannot occur in an OpenClaw version (npm's prerelease characters are [0-9A-Za-z.-]),
// so the split is unambiguous.
import { FleetError } from '../errors.js';
import { RUNTIME_KEY_PATTERN } from '../manifest/ids.js';

/** Which runtime: OpenClaw version, optional Node pin. */
export interface RuntimeId {
  openclaw: string;
  node?: string;
}

/** `2026.9.6` or `2026.9.6+node-24.21.0`. */
export function runtimeKey(id: RuntimeId): string {
  return id.node === undefined ? id.openclaw : `${id.openclaw}+node-${id.node}`;
}

/** Parses a runtime key; undefined when it is not one. */
export function parseRuntimeKey(key: string): RuntimeId | undefined {
  const m = RUNTIME_KEY_PATTERN.exec(key);
  if (!m) return undefined;
  return m[2] === undefined ? { openclaw: m[1]! } : { openclaw: m[1]!, node: m[2] };
}

/** Parses a runtime key or throws USAGE saying what one looks like. */
export function requireRuntimeKey(key: string): RuntimeId {
  const id = parseRuntimeKey(key);
  if (!id) {
    throw new FleetError('USAGE', `OpenClaw version must be exact, like 2026.9.6 (no ranges or tags), optionally with its Node pinned: 2026.9.6+node-24.21.0; got ${JSON.stringify(key)}`);
  }
  return id;
}

/** How people read a runtime: `openclaw@2026.9.6` or `openclaw@2026.9.6 on node 24.21.0`. */
export function describeRuntime(id: RuntimeId): string {
  return id.node === undefined ? `openclaw@${id.openclaw}` : `openclaw@${id.openclaw} on node ${id.node}`;
}

/** The runtime key of a managed launch (`launch.version`, `launch.node` as resolved from the manifest). */
export function launchRuntimeKey(launch: { version: string; node?: string }): string {
  return runtimeKey({ openclaw: launch.version, ...(launch.node !== undefined ? { node: launch.node } : {}) });
}
