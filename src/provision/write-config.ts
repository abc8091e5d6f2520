// Writes openclaw.json only when its content changed (atomic, 0600): an unchanged file keeps
// its inode and mtime, so nothing watching it sees a spurious change.
import { chmod, lstat, readFile } from 'node:fs/promises';
import { renderGatewayConfig } from '../plan/gateway-config.js';
import type { JsonObject } from '../plan/merge.js';
import { writeFileAtomic } from '../util/atomic-write.js';

/** Writes `config` to `path` unless the file already holds exactly that text; returns true when written. */
export async function writeConfigIfChanged(path: string, config: JsonObject): Promise<boolean> {
  const text = renderGatewayConfig(config);
  const stat = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  // A symlink or anything else in its place is replaced by the rename, never followed.
  if (stat?.isFile()) {
    const current = await readFile(path, 'utf8');
    if (current === text) {
      if ((stat.mode & 0o777) !== 0o600) await chmod(path, 0o600);
      return false;
    }
  }
  await writeFileAtomic(path, text, { mode: 0o600 });
  return true;
}
