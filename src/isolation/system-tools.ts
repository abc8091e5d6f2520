// Finds the host programs the launch chain execs (setpriv, perl, python3). Only system
// folders are searched, never a PATH: a version-manager shim such as pyenv's would be a
// shell script that adds its own variables to the gateway's environment.
import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';

/** Folders searched, in order. */
export const SYSTEM_TOOL_DIRS: readonly string[] = ['/usr/bin', '/bin', '/usr/sbin', '/sbin'];

/** Absolute path of executable `name` in `dirs`, or undefined. */
export function findSystemTool(name: string, dirs: readonly string[] = SYSTEM_TOOL_DIRS): string | undefined {
  for (const dir of dirs) {
    const path = join(dir, name);
    try {
      if (!statSync(path).isFile()) continue;
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not there
    }
  }
  return undefined;
}
