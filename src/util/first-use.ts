// Modules fleetd loads on first use only (the doctor, backups and restores, /metrics, execa:
// docs/overhead.md) come, in the shipped build, from chunks of dist/fleetd/ named by their
// content (scripts/build.mjs). A rebuild or upgrade of dist/ while fleetd runs replaces those
// chunks: the running fleetd then cannot load the ones it was built with, and says so, with
// what to do, instead of Node's bare "Cannot find module".
import { FleetError } from '../errors.js';

/**
 * Runs `load` (one dynamic import, or several in one Promise.all) for `what` (words for people:
 * "the doctor"). A module file that is not there (ERR_MODULE_NOT_FOUND) becomes FleetError
 * INTERNAL naming `what`, the missing file and `fleetctl daemon restart`; any other error
 * (one the module throws while loading) passes unchanged.
 */
export async function firstUse<T>(what: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    if ((err as NodeJS.ErrnoException | null)?.code !== 'ERR_MODULE_NOT_FOUND') throw err;
    throw new FleetError(
      'INTERNAL',
      `fleetd cannot load its code for ${what}: ${(err as Error).message}. Its files changed since it started (dist/ rebuilt or upgraded under it): \`fleetctl daemon restart\` runs the new ones, every gateway staying up`,
      { cause: err },
    );
  }
}
