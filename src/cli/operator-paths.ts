// Paths the operator names on fleetctl's command line (the archive to restore, the file a
// backup writes): checked before fleetd is asked anything, each wrong case said as it is
// (missing, a folder, unreadable) with the next step, never a raw ENOENT after a download.
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { FleetError } from '../errors.js';
import { describePath } from '../util/path-kind.js';

/**
 * A file fleetctl is about to read (absolute `path`). NOT_FOUND when nothing is there,
 * USAGE when it is a folder or anything but a regular file, REFUSED when it cannot be read;
 * every message ends with `next` (what to give instead).
 */
export async function checkFileToRead(path: string, next: string): Promise<void> {
  const st = await stat(path).catch(() => undefined);
  if (!st) throw new FleetError('NOT_FOUND', `${path} does not exist; ${next}`);
  if (st.isDirectory()) throw new FleetError('USAGE', `${path} is a folder, not a file; ${next}`);
  if (!st.isFile()) throw new FleetError('USAGE', `${path} is ${describePath(path) ?? 'not a regular file'}, not a regular file; ${next}`);
  await access(path, constants.R_OK).catch((err: NodeJS.ErrnoException) => {
    throw new FleetError('REFUSED', `${path} cannot be read (${err.code ?? err.message}); ${next}`, { cause: err });
  });
}

/**
 * A new file fleetctl is about to write (absolute `path`): CONFLICT when something is already
 * there (fleetctl never overwrites), NOT_FOUND when its folder does not exist, USAGE when that
 * "folder" is not one; `next` as above.
 */
export async function checkFileToCreate(path: string, next: string): Promise<void> {
  if (describePath(path) !== undefined) throw new FleetError('CONFLICT', `${path} already exists; fleetctl never overwrites an archive: ${next}`);
  const folder = dirname(path);
  const st = await stat(folder).catch(() => undefined);
  if (!st) throw new FleetError('NOT_FOUND', `the folder ${folder} does not exist; create it, or ${next}`);
  if (!st.isDirectory()) throw new FleetError('USAGE', `${folder} is ${describePath(folder) ?? 'not a folder'}, not a folder; ${next}`);
}
