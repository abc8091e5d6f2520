// `fleetctl remove agent --purge` deletes a home only when it is exactly where fleetd put
// it: the resolved path is <stateDir>/fleets/<fleet>/<agent>, it is a real directory (not
// a symlink someone swapped in), and its real path lies inside the state dir's real path.
import { lstat, realpath, rm } from 'node:fs/promises';
import { join, relative, resolve, isAbsolute } from 'node:path';
import { FleetError } from '../errors.js';
import { agentPaths } from '../provision/home.js';


/** Checks that an agent's home may be purged; returns its real path (undefined: nothing there). */
export async function checkPurgeTarget(stateDir: string, fleet: string, agent: string): Promise<string | undefined> {
  const expected = resolve(stateDir, 'fleets', fleet, agent);
  const { home } = agentPaths(stateDir, fleet, agent);
  if (home !== expected) throw new FleetError('REFUSED', `refusing to purge ${home}: it is not ${expected}`);
  const info = await lstat(home).catch(() => undefined);
  if (!info) return undefined; // nothing to delete
  if (info.isSymbolicLink()) {
    throw new FleetError('REFUSED', `refusing to purge ${home}: it is a symbolic link, not the home fleetd made; remove the link by hand after checking where it points`);
  }
  if (!info.isDirectory()) throw new FleetError('REFUSED', `refusing to purge ${home}: it is not a directory`);
  const realState = await realpath(stateDir);
  const realHome = await realpath(home);
  const rel = relative(realState, realHome);
  if (rel !== join('fleets', fleet, agent) || rel.startsWith('..') || isAbsolute(rel)) {
    throw new FleetError('REFUSED', `refusing to purge ${home}: it resolves to ${realHome}, outside ${realState}/fleets (a parent folder is a symbolic link?)`);
  }
  return realHome;
}

/** Deletes an agent's home after checkPurgeTarget's checks (run again: the tree may have changed), then fleetd's own folder of it. */
export async function purgeHome(stateDir: string, fleet: string, agent: string): Promise<void> {
  const realHome = await checkPurgeTarget(stateDir, fleet, agent);
  if (realHome) await rm(realHome, { recursive: true, force: true });
  await purgeSupervisorDir(stateDir, fleet, agent);
}

/** Deletes `<stateDir>/agents/<fleet>/<agent>` (last-applied config, homes a restore replaced): only that real folder, never through a link. */
async function purgeSupervisorDir(stateDir: string, fleet: string, agent: string): Promise<void> {
  const dir = agentPaths(stateDir, fleet, agent).supervisorDir;
  const info = await lstat(dir).catch(() => undefined);
  if (!info) return;
  if (!info.isDirectory()) throw new FleetError('REFUSED', `refusing to purge ${dir}: it is not the folder fleetd made (a symbolic link or a file)`);
  await rm(dir, { recursive: true, force: true });
}
