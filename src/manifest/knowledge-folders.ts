// The disk half of the `knowledge` rules: each folder exists, is a folder, and keeps clear
// of fleetd's state dir (registry and homes hold every token). Folders are replaced by
// their canonical path: OpenClaw's builtin memory engine skips a root that is a symlink
// (docs/reference/memory-config.md "Additional memory paths").
import { realpath, stat } from 'node:fs/promises';
import { relative, isAbsolute, sep } from 'node:path';
import type { Problem } from './render-issues.js';

/** Result of checkKnowledgeFolders: canonical folder per name, and what is wrong. */
export interface KnowledgeFolders {
  resolved: Record<string, string>;
  problems: Problem[];
}

/** True when `inner` is `outer` or below it (both absolute). */
function within(inner: string, outer: string): boolean {
  const rel = relative(outer, inner);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

// Why a folder cannot be used, from the errno of stat/realpath.
function reason(err: unknown, folder: string): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return `folder ${JSON.stringify(folder)} does not exist; create it or correct the path`;
  if (code === 'EACCES') return `folder ${JSON.stringify(folder)} cannot be reached by fleetd (permission denied); make it readable`;
  return `folder ${JSON.stringify(folder)} cannot be used: ${(err as Error).message}`;
}

/** Checks each `knowledge` folder (absolute paths) on disk; located problems under `knowledge.<name>`. */
export async function checkKnowledgeFolders(knowledge: Readonly<Record<string, string>>, stateDir: string): Promise<KnowledgeFolders> {
  const resolved: Record<string, string> = {};
  const problems: Problem[] = [];
  const state = await realpath(stateDir).catch(() => stateDir);
  for (const [name, folder] of Object.entries(knowledge).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const path = ['knowledge', name];
    let canonical: string;
    try {
      if (!(await stat(folder)).isDirectory()) {
        problems.push({ path, message: `${JSON.stringify(folder)} is not a folder; knowledge must be a folder of files to index` });
        continue;
      }
      canonical = await realpath(folder);
    } catch (err) {
      problems.push({ path, message: reason(err, folder) });
      continue;
    }
    if (within(canonical, state) || within(state, canonical)) {
      problems.push({ path, message: `${JSON.stringify(folder)} overlaps fleetd's state dir ${state}, which holds every agent's tokens; use a folder outside it` });
      continue;
    }
    resolved[name] = canonical;
  }
  return { resolved, problems };
}
