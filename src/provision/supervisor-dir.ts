// fleetd's own per-agent folder, OUTSIDE the agent's home (layout decision 1): the home may
// belong to a tenant user who could swap entries for symlinks, so fleetd keeps its
// bookkeeping where only it can write: `<stateDir>/agents/<fleet>/<agent>/` (0700).
// provision/home.ts agentPaths() grows a `supervisorDir` with the same value; until then
// this module computes it the same way.
import { chmod, lstat, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { FleetError } from '../errors.js';
import { agentPaths } from './home.js';

/** File of the last openclaw.json fleetd applied (the base of the three-way merge). */
export const APPLIED_CONFIG_FILE = 'config.applied.json';

/** `<stateDir>/agents/<fleet>/<agent>` (ids checked like agentPaths does). */
export function supervisorDir(stateDir: string, fleet: string, agent: string): string {
  agentPaths(stateDir, fleet, agent); // throws for ids that could escape the state dir
  return resolve(stateDir, 'agents', fleet, agent);
}

/** `<supervisorDir>/config.applied.json`. */
export function appliedConfigPath(stateDir: string, fleet: string, agent: string): string {
  return join(supervisorDir(stateDir, fleet, agent), APPLIED_CONFIG_FILE);
}

/** Creates (or repairs) `<stateDir>/agents/<fleet>/<agent>`, every level 0700 and a real folder; returns it. */
export async function ensureSupervisorDir(stateDir: string, fleet: string, agent: string): Promise<string> {
  const dir = supervisorDir(stateDir, fleet, agent);
  const root = resolve(stateDir);
  for (const level of [join(root, 'agents'), join(root, 'agents', fleet), dir]) {
    await mkdir(level, { recursive: true, mode: 0o700 });
    const st = await lstat(level);
    if (st.isSymbolicLink() || !st.isDirectory()) {
      throw new FleetError('PROVISION_FAILED', `${level} is not a folder fleetd made (a symlink or a file); move it away and run the command again`);
    }
    if ((st.mode & 0o777) !== 0o700) await chmod(level, 0o700);
  }
  return dir;
}
