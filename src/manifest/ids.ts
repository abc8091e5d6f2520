// Identifier rules shared by the manifest, the CLI and the socket: one place, one regex.

/** Fleet and agent ids: the same rule as OpenClaw's own `openclaw fleet` tenant ids. */
export const ID_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;

/** Human text for ID_PATTERN, used in every error about an id. */
export const ID_RULE = '1-40 characters of a-z, 0-9 and "-", starting and ending with a letter or digit';

/** Environment variable names a manifest may set. */
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** An OpenClaw version pin as npm understands an exact version (2026.9.6, 2026.10.1-beta.2). */
export const VERSION_PATTERN = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;

/** A Node version pin: an exact release (24.21.0); prereleases never run a gateway. */
export const NODE_VERSION_PATTERN = /^\d+\.\d+\.\d+$/;

/** A runtime: an OpenClaw version, with `+node-<version>` when its Node is pinned (2026.9.6+node-24.21.0). */
export const RUNTIME_KEY_PATTERN = /^(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)(?:\+node-(\d+\.\d+\.\d+))?$/;

/** An agent's address: `<fleet>/<agent>`. */
export type AgentAddress = `${string}/${string}`;

/** Returns true when `id` is a valid fleet or agent id. */
export function isValidId(id: string): boolean {
  return ID_PATTERN.test(id);
}

/** Joins fleet and agent ids into an address. */
export function toAddress(fleet: string, agent: string): AgentAddress {
  return `${fleet}/${agent}`;
}

/** Splits `fleet/agent`; returns undefined when it is not exactly two valid ids. */
export function parseAddress(address: string): { fleet: string; agent: string } | undefined {
  const parts = address.split('/');
  if (parts.length !== 2) return undefined;
  const [fleet, agent] = parts as [string, string];
  if (!isValidId(fleet) || !isValidId(agent)) return undefined;
  return { fleet, agent };
}

/** `record[key]` only when `key` is the record's OWN property: an id like `constructor` finds nothing it does not declare. */
export function ownEntry<T>(record: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;
}
