// The last step of a restore: the extracted home takes the place of the agent's home. The
// home in place (if any) is not deleted: it is moved into fleetd's per-agent folder as
// `replaced-home-<time>` (nothing is lost by restoring the wrong archive), then the new
// one is renamed in. Both renames stay inside the state dir's file system; between them
// (microseconds) the home is absent, and a crash there leaves the previous home aside,
// intact, with its path in fleetd's log.
import { mkdir, rename, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FleetError } from '../errors.js';
import { agentPaths } from '../provision/home.js';

/** Inputs of installHome. */
export interface InstallHomeInput {
  stateDir: string;
  fleet: string;
  agent: string;
  /** The extracted home folder (on the state dir's file system). */
  staged: string;
  /** Real path of the home in place, checked like a purge target (daemon/purge.ts); undefined: none. */
  current: string | undefined;
  /** Where the replaced home goes (fleetd's per-agent folder). */
  asideDir: string;
  now: () => Date;
}

/** Puts `staged` in place of the agent's home; returns where the previous home went (null: there was none). */
export async function installHome(input: InstallHomeInput): Promise<string | null> {
  const { home } = agentPaths(input.stateDir, input.fleet, input.agent);
  const { current } = input;
  await mkdir(dirname(home), { recursive: true, mode: 0o700 });
  let aside: string | null = null;
  if (current) {
    aside = join(input.asideDir, `replaced-home-${input.now().toISOString().replace(/[:.]/g, '-')}`);
    if (await stat(aside).catch(() => undefined)) throw new FleetError('CONFLICT', `${aside} already exists; try again in a moment`);
    await renameOrExplain(current, aside);
  }
  try {
    await renameOrExplain(input.staged, home);
  } catch (err) {
    if (aside) await rename(aside, home).catch(() => undefined);
    throw err;
  }
  return aside;
}

/** rename(2), with EXDEV (state dir spread over file systems) explained. */
async function renameOrExplain(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EXDEV') {
      throw new FleetError('PROVISION_FAILED', `cannot move ${from} to ${to}: they are on different file systems; keep <stateDir>/fleets and <stateDir>/agents on one`, { cause: err });
    }
    throw err;
  }
}
