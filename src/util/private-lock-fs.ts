// proper-lockfile makes its lock folder with a bare mkdir: 0777 minus the umask, so 0777
// under umask 000. Every folder fleetd makes is 0700 whatever the umask (issue 9 item 7c):
// pass this as proper-lockfile's `fs` option.
import * as fs from 'node:fs';

/** node:fs with mkdir making 0700 folders (proper-lockfile calls mkdir(path, callback)). */
export const privateLockFs = {
  ...fs,
  mkdir: (path: fs.PathLike, callback: (err: NodeJS.ErrnoException | null) => void) => fs.mkdir(path, { mode: 0o700 }, callback),
};
