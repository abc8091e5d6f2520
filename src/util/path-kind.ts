// Says what a path is, in words, for errors about a path that should have been something
// else ("--socket names a directory, not a socket").
import { lstatSync, statSync, type Stats } from 'node:fs';

/** "a directory", "a regular file", "a character device"... for a stat result. */
export function describeKind(stats: Stats): string {
  if (stats.isSocket()) return 'a socket';
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFile()) return 'a regular file';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isFIFO()) return 'a named pipe (FIFO)';
  if (stats.isSymbolicLink()) return 'a symbolic link';
  return 'something that is not a socket';
}

/** What is at `path` (following a symlink, and saying so): undefined when nothing is there. */
export function describePath(path: string): string | undefined {
  let link: Stats;
  try {
    link = lstatSync(path);
  } catch {
    return undefined;
  }
  if (!link.isSymbolicLink()) return describeKind(link);
  try {
    return `a symbolic link to ${describeKind(statSync(path))}`;
  } catch {
    return 'a symbolic link to nothing (dangling)';
  }
}
