// `fleetctl backup F/A`: an agent's archive made by fleetd (which can read every home) and
// streamed to fleetctl, which writes the file. Databases are copied with SQLite's backup
// API through the agent's runtime Node while the gateway runs; a stopped agent is copied
// the same way (or file by file when no Node with node:sqlite is known).
import { createBackup, type CreatedBackup } from '../backup/create.js';
import type { IncludeOptions } from '../backup/layout.js';
import { nodeHasSqliteBackup } from '../backup/sqlite.js';
import { inspectRuntime } from '../runtime/marker.js';
import { VERSION } from '../version.js';
import type { AgentFacts } from './agent-facts.js';
import type { Fleet } from './fleet.js';

/** True unless the agent is stopped or failed with no process. */
export function isAgentActive(fleet: Fleet, address: string): boolean {
  return fleet.isActive(address);
}

/** A Node that can copy SQLite databases consistently: the agent's runtime's, else fleetd's own when it can. */
export async function sqliteNodeFor(facts: AgentFacts): Promise<string | undefined> {
  const launch = facts.desired.launch;
  if (launch.kind === 'openclaw') {
    const found = await inspectRuntime(facts.manifest.runtimesDir, launch.version, { version: process.versions.node, path: process.execPath });
    if (found.state === 'ready' && (await nodeHasSqliteBackup(found.runtime.node))) return found.runtime.node;
  }
  return (await nodeHasSqliteBackup(process.execPath)) ? process.execPath : undefined;
}

/** Makes the archive of one agent (staged in its supervisor folder). */
export async function backupAgent(fleet: Fleet, facts: AgentFacts, include: IncludeOptions, now: () => number): Promise<CreatedBackup> {
  const { desired, entry } = facts;
  return createBackup({
    address: facts.address,
    fleet: desired.fleet,
    agent: desired.agent,
    source: desired.source,
    home: facts.effective.paths.home,
    stagingParent: facts.supervisorDir,
    include,
    running: isAgentActive(fleet, facts.address),
    openclawVersion: desired.launch.kind === 'openclaw' ? desired.launch.version : null,
    sqliteNode: await sqliteNodeFor(facts),
    record: { token: entry.token, source: desired.source, spec: { config: desired.config, env: desired.env }, port: entry.port },
    appliedConfigPath: facts.appliedPath,
    fleetdVersion: VERSION,
    now: () => new Date(now()),
  });
}
