// Extracting a VERIFIED archive (verify.ts) into a fresh private folder: only regular files
// and folders, owned by fleetd's user, folders 0700, files with the owner bits the manifest
// recorded (0600 at least) and nothing for group or others. The archive file is fleetd's own
// (0600 in a 0700 folder), so it cannot change between the verification and this read; the
// filter re-applies the path rules anyway.
import { chmod, lstat, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { extract } from 'tar';
import { FleetError } from '../errors.js';
import { checkArchivePath, DEFAULT_LIMITS, normalizeArchivePath } from './layout.js';
import type { BackupManifest } from './manifest.js';

/** Extracts `file` into the empty folder `dest` (created 0700); modes set from the manifest. */
export async function extractArchive(file: string, dest: string, manifest: BackupManifest): Promise<void> {
  await mkdir(dest, { recursive: true, mode: 0o700 });
  if ((await readdir(dest)).length > 0) throw new FleetError('INTERNAL', `${dest} is not empty; refusing to extract into it`);
  const modes = new Map(manifest.files.map((f) => [f.path, f.mode]));
  let refused: string | undefined;
  await extract({
    file,
    cwd: dest,
    strict: true,
    preservePaths: false,
    preserveOwner: false,
    unlink: true,
    chmod: true,
    processUmask: 0o077,
    maxDecompressionRatio: Infinity,
    filter: (path, entry) => {
      const type = (entry as { type?: string }).type;
      const ok = (type === 'File' || type === 'OldFile' || type === 'Directory') && !checkArchivePath(path, type === 'Directory', DEFAULT_LIMITS);
      if (!ok) refused ??= path;
      return ok;
    },
  });
  if (refused !== undefined) throw new FleetError('ARCHIVE_INVALID', `entry ${JSON.stringify(refused)} changed since it was verified; the extraction was discarded`);
  await fixModes(dest, modes);
}

/** Folders 0700; files (recorded owner bits) | 0600, nothing for group and others; no link may exist. */
async function fixModes(dest: string, modes: Map<string, number>): Promise<void> {
  const stack: string[] = [''];
  while (stack.length > 0) {
    const rel = stack.pop()!;
    const full = rel ? join(dest, rel) : dest;
    const st = await lstat(full);
    if (st.isSymbolicLink()) throw new FleetError('ARCHIVE_INVALID', `${rel} came out as a symbolic link; the extraction was discarded`);
    if (st.isDirectory()) {
      await chmod(full, 0o700);
      for (const name of await readdir(full)) stack.push(rel ? `${rel}/${name}` : name);
    } else if (st.isFile()) {
      await chmod(full, ((modes.get(normalizeArchivePath(rel)) ?? 0o600) & 0o700) | 0o600);
    } else {
      throw new FleetError('ARCHIVE_INVALID', `${rel} came out as something other than a file or folder; the extraction was discarded`);
    }
  }
}
