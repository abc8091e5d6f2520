// The OpenClaw and Node versions an agent runs, for status and metrics: the OpenClaw
// version and a pinned Node come from its launch; an unpinned Node from the installed
// runtime's marker (chosen at install by the LTS rule).
import type { GatewayLaunch } from '../manifest/schema.js';
import { listRuntimes } from './manage.js';
import { launchRuntimeKey } from './runtime-key.js';

/** Node version of every complete runtime under `runtimesDir`, by runtime key (empty when unreadable). */
export async function installedNodeVersions(runtimesDir: string): Promise<Map<string, string>> {
  const list = await listRuntimes(runtimesDir).catch(() => []);
  return new Map(list.map((r) => [r.version, r.nodeVersion]));
}

/** `{ openclaw, node }` of a launch; nulls for a fixed command or a runtime not installed yet. */
export function agentRuntimeVersions(launch: GatewayLaunch | undefined, installed: ReadonlyMap<string, string>): { openclaw: string | null; node: string | null } {
  if (launch?.kind !== 'openclaw') return { openclaw: null, node: null };
  return { openclaw: launch.version, node: launch.node ?? installed.get(launchRuntimeKey(launch)) ?? null };
}
