// Reads and validates the fleet manifest: JSON5 -> zod shape -> cross-field rules ->
// absolute paths. parseManifest is pure (no disk); loadManifest adds the file read and the
// knowledge folder checks (knowledge-folders.ts).
// An invalid manifest is rejected whole, with every problem found listed at once.
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import JSON5 from 'json5';
import { FleetError } from '../errors.js';
import { checkKnowledgeFolders } from './knowledge-folders.js';
import { MAX_JSON_DEPTH } from '../util/json-depth.js';
import { json5ErrorOffset, positionAt, scanJson5 } from './json5-scan.js';
import { formatProblem, markDefaultMessages, renderIssues, type Problem } from './render-issues.js';
import { checkRules } from './rules.js';
import { manifestSchema, type Manifest, type ManifestInput } from './schema.js';

/** What runs for an agent; defined next to the launch rule, re-exported for callers that only load. */
export { resolveLaunch, DEFAULT_GATEWAY_COMMAND, manifestWarnings } from './rules.js';

/** CLI flags that win over the manifest (`--state-dir`, `--socket`); relative ones resolve against the cwd. */
export interface ManifestOverrides {
  stateDir?: string;
  socket?: string;
}

/** Longest socket path accepted: Unix sockets hold ~107 bytes, keep a margin. */
export const SOCKET_PATH_MAX_BYTES = 100;

/** Absolute paths of a manifest. */
export interface ManifestPaths {
  stateDir: string;
  socket: string;
  runtimesDir: string;
}

/**
 * Resolves stateDir, socket and runtimesDir: manifest values relative to the manifest's
 * folder, defaults `<folder>/fleetd-state`, `<stateDir>/fleetd.sock`, `<stateDir>/runtimes`.
 */
export function resolveManifestPaths(
  manifestFolder: string,
  written: { stateDir?: string | undefined; socket?: string | undefined; runtimesDir?: string | undefined },
  overrides: ManifestOverrides = {},
): ManifestPaths {
  const stateDir = overrides.stateDir
    ? resolve(overrides.stateDir)
    : written.stateDir
      ? resolve(manifestFolder, written.stateDir)
      : join(manifestFolder, 'fleetd-state');
  const socket = overrides.socket
    ? resolve(overrides.socket)
    : written.socket
      ? resolve(manifestFolder, written.socket)
      : join(stateDir, 'fleetd.sock');
  const runtimesDir = written.runtimesDir ? resolve(manifestFolder, written.runtimesDir) : join(stateDir, 'runtimes');
  return { stateDir, socket, runtimesDir };
}

// The socket path must fit in sockaddr_un; say where it came from and how to shorten it.
function checkSocketLength(paths: ManifestPaths, written: { socket?: unknown }, overrides: ManifestOverrides): Problem[] {
  const bytes = Buffer.byteLength(paths.socket);
  if (bytes <= SOCKET_PATH_MAX_BYTES) return [];
  const origin = overrides.socket ? 'from --socket' : typeof written.socket === 'string' ? 'from "socket"' : 'the default <stateDir>/fleetd.sock';
  return [
    {
      path: ['socket'],
      message:
        `must be at most ${SOCKET_PATH_MAX_BYTES} bytes (Unix sockets hold about 107), found ${bytes} bytes (${origin}: ${paths.socket}); ` +
        'set "socket" (or --socket) to a shorter path such as /run/fleetd/fleetd.sock',
    },
  ];
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function invalid(lines: string[], cause?: unknown): FleetError {
  const problems = [...new Set(lines)];
  return new FleetError('MANIFEST_INVALID', problems.join('\n'), { cause, details: { problems } });
}

/** The JSON5 syntax error of `text`, located by line:column as editors count them (any line-ending convention). */
function syntaxProblem(text: string, file: string, err: unknown): string {
  const e = err as SyntaxError & { lineNumber?: number; columnNumber?: number };
  const message = String(e.message).replace(/^JSON5: /, '').replace(/ at \d+:\d+$/, '');
  if (e.lineNumber === undefined) return `${file}: not valid JSON5: ${message}`;
  const at = positionAt(text, json5ErrorOffset(text, e.lineNumber, e.columnNumber ?? 1));
  return `${file}:${at.line}:${at.column}: not valid JSON5: ${message}`;
}

// Records of ids (fleets, agents) get no prototype: `constructor`, `toString`, `valueOf`...
// are ids like any other, and a lookup of an undeclared one finds nothing (issue 9 item 5).
/** The manifest with its id-keyed records made prototype-free. */
function withBareRecords(input: ManifestInput): ManifestInput {
  const fleets: ManifestInput['fleets'] = Object.create(null);
  for (const [fleetId, fleet] of Object.entries(input.fleets)) {
    const agents: typeof fleet.agents = Object.create(null);
    for (const [agentId, agent] of Object.entries(fleet.agents)) agents[agentId] = agent;
    fleets[fleetId] = { ...fleet, agents };
  }
  return { ...input, fleets };
}

/** Parses and validates manifest text (no disk access); throws MANIFEST_INVALID listing every problem. */
export function parseManifest(text: string, file: string, overrides: ManifestOverrides = {}): Manifest {
  const manifestPath = resolve(file);
  const body = text.replace(/^\uFEFF/, '');
  let raw: unknown;
  try {
    raw = JSON5.parse(body); // iterative: any depth parses; the scan below bounds it before anything recursive runs
  } catch (err) {
    throw invalid([syntaxProblem(body, file, err)], err);
  }
  const scan = scanJson5(body, MAX_JSON_DEPTH);
  if (scan.tooDeep) {
    const { path, at, maxDepth } = scan.tooDeep;
    throw invalid([formatProblem(file, { path, at, message: `nested deeper than ${maxDepth} levels (objects and arrays); flatten it` })]);
  }
  const problems: Problem[] = scan.duplicates.map((d) => ({
    path: d.path,
    at: d.again,
    message: `key written twice in the same object (first at ${d.first.line}:${d.first.column}, again at ${d.again.line}:${d.again.column}); JSON5 would keep only the last: remove one`,
  }));

  const parsed = manifestSchema.safeParse(raw, { error: markDefaultMessages });
  if (!parsed.success) problems.push(...renderIssues(parsed.error.issues, raw, manifestSchema));
  problems.push(...checkRules(raw));

  const obj = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  const written = { stateDir: str(obj.stateDir), socket: str(obj.socket), runtimesDir: str(obj.runtimesDir) };
  const paths = resolveManifestPaths(dirname(manifestPath), written, overrides);
  problems.push(...checkSocketLength(paths, obj, overrides));

  if (problems.length > 0 || !parsed.success) {
    throw invalid(problems.map((p) => formatProblem(file, p)));
  }
  // Knowledge folders are relative to the manifest's folder, like stateDir.
  const bare = withBareRecords(parsed.data);
  const knowledge = Object.fromEntries(Object.entries(bare.knowledge).map(([name, folder]) => [name, resolve(dirname(manifestPath), folder)]));
  return { ...bare, knowledge, manifestPath, ...paths };
}

/** The next step of a MANIFEST_NOT_FOUND for the fleetd command line (`fleetd start`, `fleetd validate`). */
export const MISSING_MANIFEST_STEP = 'create it (start from fleets.example.json5) or pass --manifest <path>';

/** The next step of a MANIFEST_NOT_FOUND inside a running fleetd (reload, SIGHUP, doctor): its path is fixed at start. */
export const MISSING_RELOAD_STEP = 'put it back there: a running fleetd re-reads the file it was started with (`fleetd start --manifest FILE` chose it), and keeps the manifest it loaded last until then';

/**
 * Reads the manifest file and validates it (knowledge folders checked on disk, made canonical).
 * MANIFEST_NOT_FOUND when it cannot be read, its message ending with `whenMissing`: the next
 * step, which depends on who reads (the command line can pass another file, a reload cannot).
 */
export async function loadManifest(path: string, overrides: ManifestOverrides = {}, whenMissing = MISSING_MANIFEST_STEP): Promise<Manifest> {
  const absolute = resolve(path);
  let text: string;
  try {
    text = await readFile(absolute, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' || code === 'ENOTDIR'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'it is a directory, not a file'
          : code === 'EACCES'
            ? 'permission denied'
            : String((err as Error).message);
    throw new FleetError(
      'MANIFEST_NOT_FOUND',
      `cannot read the manifest ${absolute}: ${why}; ${whenMissing}`,
      { cause: err, details: { path: absolute } },
    );
  }
  const manifest = parseManifest(text, absolute, overrides);
  const folders = await checkKnowledgeFolders(manifest.knowledge, manifest.stateDir);
  if (folders.problems.length > 0) throw invalid(folders.problems.map((p) => formatProblem(absolute, p)));
  return { ...manifest, knowledge: folders.resolved };
}
