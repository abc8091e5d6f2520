// registry.json: the durable facts about every agent (port block, token, who declared it,
// what the operator wants, the process to adopt after a fleetd crash). Read-modify-write
// happens under a proper-lockfile lock so two processes (daemon + a recovery tool, or two
// daemons racing at start-up) never lose each other's writes; writes are atomic (0600).
// An invalid file is never overwritten: it is the only copy of every agent's token.
import { createHash } from 'node:crypto';
import { chmod, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { FleetError } from '../errors.js';
import { registryV1Schema, type RegistryFile } from '../plan/registry-schema.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { renderZodIssues } from '../util/zod-path.js';
import { privateLockFs } from '../util/private-lock-fs.js';
import { findTooDeep, MAX_JSON_DEPTH } from '../util/json-depth.js';
import { formatPath } from '../manifest/render-issues.js';

/** The registry format this fleetd writes. */
export const REGISTRY_VERSION = 1;

/** File name inside the state dir. */
export const REGISTRY_FILE = 'registry.json';

export { registryV1Schema };

/** Upgrade steps keyed by the version they upgrade FROM (v1 -> v2 goes under 1). None yet. */
export const REGISTRY_MIGRATIONS: Readonly<Record<number, (raw: Record<string, unknown>) => Record<string, unknown>>> = {};

/** A registry with no agents (what a missing file means). */
export function emptyRegistry(): RegistryFile {
  return { version: 1, agents: {} };
}

/** Parses, migrates and validates registry text; REGISTRY_INVALID names the file and the problem. */
export function parseRegistry(text: string, file: string): RegistryFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw invalid(file, `not valid JSON (${err instanceof Error ? err.message : String(err)})`, err);
  }
  const deep = findTooDeep(raw, MAX_JSON_DEPTH + 4); // an agent's config sits 4 levels down
  if (deep) throw invalid(file, `nested deeper than ${MAX_JSON_DEPTH} levels at ${formatPath(deep)}`);
  const migrated = migrateRegistry(raw, file);
  const result = registryV1Schema.safeParse(migrated);
  if (!result.success) {
    throw invalid(file, renderZodIssues(result.error), result.error);
  }
  return result.data;
}

/** Brings a parsed registry of any known version up to REGISTRY_VERSION. */
export function migrateRegistry(raw: unknown, file: string): unknown {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid(file, 'expected a JSON object');
  let current = raw as Record<string, unknown>;
  const found = current['version'];
  if (typeof found !== 'number' || !Number.isInteger(found) || found < 1) {
    throw invalid(file, `version: expected a positive integer, got ${JSON.stringify(found)}`);
  }
  let version: number = found;
  if (version > REGISTRY_VERSION) {
    throw new FleetError(
      'REGISTRY_INVALID',
      `${file} has format version ${version}, written by a newer fleetd; this fleetd reads up to version ${REGISTRY_VERSION}. Upgrade fleetd (the file was left untouched)`,
    );
  }
  while (version < REGISTRY_VERSION) {
    const step = REGISTRY_MIGRATIONS[version];
    if (!step) throw invalid(file, `no migration from registry version ${version}`);
    current = step(current);
    if (current['version'] !== version + 1) throw invalid(file, `migration from registry version ${version} did not produce version ${version + 1}`);
    version += 1;
  }
  return current;
}

/** Handle on one state dir's registry. */
export interface Registry {
  /** Absolute path of registry.json. */
  readonly path: string;
  /** Reads and validates the registry (no lock: writes are atomic renames). Missing file = empty. */
  read(): Promise<RegistryFile>;
  /** Locked read-modify-write; the mutator edits the registry in place. Returns what was stored. */
  update(mutator: (reg: RegistryFile) => void | Promise<void>): Promise<RegistryFile>;
  /**
   * Locked write of `agents` in place of the file's: for a caller that validated them as it
   * made them (the daemon's store validates each change: registry-draft.ts), so they are not
   * parsed with the schema again. The file's own text still is, unless it is this process's
   * last write: an invalid registry.json is never overwritten (REGISTRY_INVALID). Resolves
   * when written (or when the text was already that).
   */
  replace(agents: RegistryFile['agents']): Promise<void>;
}

/** Lock tuning (tests shorten it; the defaults suit the daemon). */
export interface RegistryOptions {
  /** A lock not refreshed for this long is taken over (ms, min 2000). */
  staleMs?: number;
  /** Retries while another process holds the lock. */
  retries?: { retries: number; minTimeout: number; maxTimeout: number; factor?: number; randomize?: boolean };
}

/** Opens the registry of `stateDir` (nothing is read or created until used). */
export function openRegistry(stateDir: string, options: RegistryOptions = {}): Registry {
  const path = join(stateDir, REGISTRY_FILE);
  const lockfilePath = `${path}.lock`;
  const retries = options.retries ?? { retries: 200, minTimeout: 10, maxTimeout: 250, factor: 1.3, randomize: true };
  const staleMs = options.staleMs ?? 10_000;
  // Updates from this process queue here instead of spinning on the file lock.
  let queue: Promise<unknown> = Promise.resolve();
  // The text this process last wrote (it came from a validated registry). The daemon's store
  // writes the whole registry for each batch of changes; parsing its own last write again
  // with the schema, and comparing canonical JSON before and after, cost ~20 ms of fleetd's
  // main thread per write at 200 agents (~150 ms of a start all again). A file that still
  // holds exactly that text is read with JSON.parse alone; any other text (another process
  // wrote it, or a person) is parsed and validated in full. Kept as its SHA-256, not the text:
  // the text is ~670 bytes per agent (134 KB of fleetd's heap at 200 agents, for as long as
  // fleetd runs); hashing what was read costs ~0.1 ms per 130 KB.
  let lastWritten: string | undefined;

  /** The file's text, undefined when it does not exist. */
  async function readText(): Promise<string | undefined> {
    try {
      return await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw invalid(path, `cannot be read (${(err as Error).message})`, err);
    }
  }

  async function read(): Promise<RegistryFile> {
    const text = await readText();
    return text === undefined ? emptyRegistry() : parseRegistry(text, path);
  }

  // replace(): the store's batches at 200 agents validated the whole registry once more on
  // each write (~1-2 ms each, ~40 ms of fleetd's main thread in a first start of all, CPU
  // profile, issue 14), and parsed fleetd's own last write back with JSON.parse only to drop
  // its agents: each entry was validated when the change that made it was applied.
  /** The locked read-modify-write; `change` is a mutator (validated after), or agents validated by the caller. */
  async function lockedUpdate(change: { mutator: (reg: RegistryFile) => void | Promise<void> } | { agents: RegistryFile['agents'] }): Promise<RegistryFile> {
    await ensureStateDir(stateDir);
    let compromised: Error | undefined;
    let release: () => Promise<void>;
    try {
      release = await lockfile.lock(path, {
        lockfilePath,
        realpath: false,
        fs: privateLockFs,
        stale: staleMs,
        retries,
        onCompromised: (err) => {
          compromised = err;
        },
      });
    } catch (err) {
      throw new FleetError('TIMEOUT', `registry ${path} stayed locked by another process (lock ${lockfilePath}); if no other fleetd runs, the lock goes stale after ${staleMs} ms, then retry`, { cause: err });
    }
    try {
      const text = await readText();
      // a fresh object either way: the mutator edits it in place
      const textDigest = text === undefined ? undefined : digestOf(text);
      const own = textDigest !== undefined && textDigest === lastWritten;
      let result: RegistryFile;
      if ('agents' in change) {
        if (text !== undefined && !own) parseRegistry(text, path); // REGISTRY_INVALID: left alone
        result = { version: 1, agents: change.agents };
      } else {
        const draft = text === undefined ? emptyRegistry() : own ? (JSON.parse(text) as RegistryFile) : parseRegistry(text, path);
        await change.mutator(draft);
        const checked = registryV1Schema.safeParse(draft);
        if (!checked.success) {
          const problems = renderZodIssues(checked.error);
          throw new FleetError('INTERNAL', `refusing to write an invalid registry to ${path}: ${problems}`, { cause: checked.error });
        }
        result = checked.data;
      }
      if (compromised) throw new FleetError('CONFLICT', `lost the lock on ${path} while updating it (${compromised.message}); nothing was written, retry`, { cause: compromised });
      // written when its text changes (the same content in another layout, a file edited by
      // hand, is written once in fleetd's own): a missing file stays missing while empty
      const next = serializeRegistry(result);
      if (next !== (text ?? serializeRegistry(emptyRegistry()))) {
        lastWritten = undefined; // a failed write leaves either text in place
        await writeFileAtomic(path, next, { mode: 0o600 });
        lastWritten = digestOf(next);
      } else if (text !== undefined) {
        lastWritten = textDigest;
      }
      return result;
    } finally {
      await release().catch(() => {});
    }
  }

  return {
    path,
    read,
    update(mutator) {
      const run = queue.then(() => lockedUpdate({ mutator }));
      queue = run.catch(() => undefined);
      return run;
    },
    replace(agents) {
      const run = queue.then(() => lockedUpdate({ agents }));
      queue = run.catch(() => undefined);
      return run.then(() => undefined);
    },
  };
}

/** registry.json's text of `registry`: JSON, two-space indented, one trailing newline. */
function serializeRegistry(registry: RegistryFile): string {
  return `${JSON.stringify(registry, null, 2)}\n`;
}

/** Creates the state dir (0700) when missing. */
async function ensureStateDir(stateDir: string): Promise<void> {
  const created = await mkdir(stateDir, { recursive: true, mode: 0o700 });
  if (created !== undefined) await chmod(stateDir, 0o700);
}

/** The REGISTRY_INVALID error: names the file, what is wrong, and that it is left alone. */
function invalid(file: string, problem: string, cause?: unknown): FleetError {
  return new FleetError(
    'REGISTRY_INVALID',
    `${file} is invalid: ${problem}. fleetd never overwrites an invalid registry (it holds every agent's port block and token): fix the file, or move it away to start with an empty registry (new ports and tokens)`,
    { cause },
  );
}

/** SHA-256 of a registry text (base64): what openRegistry keeps of its last write. */
function digestOf(text: string): string {
  return createHash('sha256').update(text).digest('base64');
}
