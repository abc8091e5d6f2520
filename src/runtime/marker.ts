// The `fleetd-runtime.json` marker: written last, inside the temp folder, before the
// rename that publishes a runtime. A folder without it is an install that never finished.
// Reading a runtime back (inspectRuntime) only stats files: it is on every agent start.
import { lstat, readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../util/atomic-write.js';
import { MARKER_FILE, runtimeDir } from './layout.js';
import { parseRuntimeKey } from './runtime-key.js';
import { satisfies } from './semver.js';
import type { Runtime, SystemNode } from './types.js';

/** The marker's schema (version 1). Paths inside the runtime are relative, so the temp folder can be renamed. */
export const RuntimeMarkerSchema = z.object({
  schema: z.literal(1),
  /** The OpenClaw version. */
  version: z.string(),
  /** True when the manifest pinned this Node (the folder name then carries `+node-<version>`). */
  nodePinned: z.boolean().optional(),
  /** Why this Node: pinned, the LTS rule, or the fallback (for people). */
  nodeReason: z.string().optional(),
  nodeVersion: z.string(),
  /** `package`: a Node binary package inside the runtime; `system`: the Node running fleetd. */
  nodeSource: z.enum(['package', 'system']),
  /** Relative to the runtime folder for `package`; absolute for `system` (informational). */
  node: z.string(),
  nodePackage: z.string().optional(),
  /** OpenClaw's bin entry, relative to the runtime folder. */
  entry: z.string(),
  /** OpenClaw's `engines.node` at install time, when it declares one. */
  enginesNode: z.string().optional(),
  platform: z.string(),
  arch: z.string(),
  installedAt: z.string(),
  sizeBytes: z.number().int().nonnegative().optional(),
});

/** A parsed marker. */
export type RuntimeMarker = z.infer<typeof RuntimeMarkerSchema>;

/** What is found at `<runtimesDir>/openclaw-<version>`. */
export type RuntimeInspection =
  | { state: 'absent' }
  | { state: 'incomplete' }
  | { state: 'unusable'; reason: string }
  | { state: 'ready'; runtime: Runtime; marker: RuntimeMarker };

/** Writes the marker into an install folder (mode 0644: runtimes hold no secrets). */
export async function writeMarker(dir: string, marker: RuntimeMarker): Promise<void> {
  await writeFileAtomic(join(dir, MARKER_FILE), `${JSON.stringify(RuntimeMarkerSchema.parse(marker), null, 2)}\n`, { mode: 0o644 });
}

/** Reads a marker; undefined when there is none, an `unusable` reason when it is damaged. */
export async function readMarker(dir: string): Promise<RuntimeMarker | undefined | { damaged: string }> {
  let text: string;
  try {
    text = await readFile(join(dir, MARKER_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const parsed = RuntimeMarkerSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : { damaged: `${MARKER_FILE} does not match its schema` };
  } catch {
    return { damaged: `${MARKER_FILE} is not JSON` };
  }
}

/** Looks at one runtime's folder (`key`: a runtime key) and says whether it can be launched, and how. */
export async function inspectRuntime(runtimesDir: string, key: string, systemNode: SystemNode): Promise<RuntimeInspection> {
  const id = parseRuntimeKey(key);
  const dir = runtimeDir(runtimesDir, key);
  if (!id) return { state: 'unusable', reason: `${JSON.stringify(key)} is not a runtime key` };
  const version = id.openclaw;
  const st = await lstat(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (!st) return { state: 'absent' };
  if (st.isSymbolicLink() || !st.isDirectory()) return { state: 'unusable', reason: `${dir} is not a directory fleetd installed (symlink or file)` };
  const marker = await readMarker(dir);
  if (marker === undefined) return { state: 'incomplete' };
  if ('damaged' in marker) return { state: 'unusable', reason: `${dir}: ${marker.damaged}` };
  if (marker.version !== version) return { state: 'unusable', reason: `${dir} holds openclaw@${marker.version}, not ${version}` };
  if (id.node !== undefined && marker.nodeVersion !== id.node) return { state: 'unusable', reason: `${dir} holds Node ${marker.nodeVersion}, not the pinned ${id.node}` };
  const entry = inside(dir, marker.entry);
  if (!entry || !(await isFile(entry))) return { state: 'unusable', reason: `${dir}: OpenClaw's entry ${marker.entry} is missing` };
  if (marker.nodeSource === 'package') {
    const node = inside(dir, marker.node);
    if (!node || !(await isFile(node))) return { state: 'unusable', reason: `${dir}: the Node binary ${marker.node} is missing` };
    return { state: 'ready', marker, runtime: { version, key, dir, node, entry, nodeVersion: marker.nodeVersion } };
  }
  // installed without a Node package because fleetd's own Node was good enough: still true?
  if (marker.enginesNode && !satisfies(systemNode.version, marker.enginesNode)) {
    return {
      state: 'unusable',
      reason: `openclaw@${version} was installed to run on fleetd's own Node ${marker.nodeVersion}, but fleetd now runs on Node ${systemNode.version}, outside ${marker.enginesNode}`,
    };
  }
  if (id.node !== undefined && systemNode.version !== id.node) {
    return { state: 'unusable', reason: `openclaw@${version} was installed to run on fleetd's own Node ${id.node}, but fleetd now runs on Node ${systemNode.version}` };
  }
  return { state: 'ready', marker, runtime: { version, key, dir, node: systemNode.path, entry, nodeVersion: systemNode.version } };
}

/** `dir/rel` when `rel` is relative and stays inside `dir`; undefined otherwise. */
function inside(dir: string, rel: string): string | undefined {
  if (isAbsolute(rel)) return undefined;
  const full = join(dir, rel);
  const back = relative(dir, full);
  return back === '' || back.startsWith('..') || isAbsolute(back) ? undefined : full;
}

/** True when `path` is a regular file (following symlinks, as node_modules/.bin-style links are fine). */
async function isFile(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isFile(), () => false);
}
