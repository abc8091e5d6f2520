// What an agent backup holds and where (pure). An archive is a tar.gz:
//   fleetd-backup.json           the manifest: format, agent, OpenClaw version, time, files (size, sha256)
//   fleetd/agent.json            the agent's token and its spec (a secret: the archive is 0600)
//   fleetd/config.applied.json   fleetd's last-applied openclaw.json (base of the three-way merge)
//   home/.openclaw/...           OpenClaw's config, state databases, credentials, sessions
//   home/workspace/...           the agent's workspace
//   home/logs/...                only with --include-logs
//   home/.cache/..., home/.npm/..., home/.openclaw/cache/...   only with --include-cache
// Never archived: tmp folders (lock files of live processes, compile caches) and anything
// else at the top of the home (listed as left out). Restore accepts exactly these roots.

/** Format version of the archive layout and manifest this fleetd writes and reads. */
export const BACKUP_FORMAT = 1;

/** The manifest entry. */
export const MANIFEST_PATH = 'fleetd-backup.json';
/** The agent record entry (token, spec). */
export const AGENT_PATH = 'fleetd/agent.json';
/** The last-applied config entry. */
export const APPLIED_PATH = 'fleetd/config.applied.json';
/** Prefix of the home's files in the archive. */
export const HOME_PREFIX = 'home';

/** What a path of the home is, for backup purposes. */
export type HomeClass = 'state' | 'logs' | 'cache' | 'tmp' | 'other';

/** Which optional parts a backup includes. */
export interface IncludeOptions {
  logs: boolean;
  cache: boolean;
}

/** Classifies a path of the home (segments relative to the home, not empty). */
export function classifyHomePath(segments: readonly string[]): HomeClass {
  const [top, second] = segments;
  if (top === '.openclaw') {
    if (second === 'cache') return 'cache';
    if (second === 'tmp') return 'tmp';
    if (second === 'logs') return 'logs';
    return 'state';
  }
  if (top === 'workspace') return 'state';
  if (top === 'logs') return 'logs';
  if (top === '.cache' || top === '.npm') return 'cache';
  if (top === 'tmp') return 'tmp';
  return 'other';
}

/** True when a home path of class `cls` goes into a backup with `include`. */
export function isIncluded(cls: HomeClass, include: IncludeOptions): boolean {
  return cls === 'state' || (cls === 'logs' && include.logs) || (cls === 'cache' && include.cache);
}

/** Why a home path is left out, for the manifest's list. */
export function leftOutReason(cls: HomeClass): string {
  switch (cls) {
    case 'logs':
      return 'logs (add --include-logs)';
    case 'cache':
      return 'cache (add --include-cache)';
    case 'tmp':
      return 'temporary files are never archived';
    default:
      return 'not part of an agent backup (only .openclaw, workspace, logs and caches are)';
  }
}

/** SQLite side files: part of a live database, never archived (the consistent copy replaces them). */
export const SQLITE_SIDECAR_SUFFIXES = ['-wal', '-shm', '-journal'] as const;

/** The database a side file belongs to (`x.sqlite-wal` -> `x.sqlite`), or undefined. */
export function sidecarOf(name: string): string | undefined {
  const suffix = SQLITE_SIDECAR_SUFFIXES.find((s) => name.endsWith(s) && name.length > s.length);
  return suffix ? name.slice(0, -suffix.length) : undefined;
}

/** Limits a restore enforces on an archive (bytes are uncompressed content). */
export interface ArchiveLimits {
  maxEntries: number;
  maxEntryBytes: number;
  maxTotalBytes: number;
  maxPathBytes: number;
  maxManifestBytes: number;
}

/** Default limits: generous for a real agent, far below what could fill a disk by surprise. */
export const DEFAULT_LIMITS: ArchiveLimits = {
  maxEntries: 200_000,
  maxEntryBytes: 8 * 1024 ** 3,
  maxTotalBytes: 32 * 1024 ** 3,
  maxPathBytes: 1024,
  maxManifestBytes: 64 * 1024 * 1024,
};

/** Why an archive path is not acceptable, or undefined when it is (a normalized relative path inside the known roots). */
export function checkArchivePath(path: string, isDirectory: boolean, limits: Pick<ArchiveLimits, 'maxPathBytes'>): string | undefined {
  if (path.length === 0) return 'empty path';
  if (path.includes('\0')) return 'NUL byte in the path';
  if (Buffer.byteLength(path) > limits.maxPathBytes) return `path longer than ${limits.maxPathBytes} bytes`;
  if (path.startsWith('/')) return 'absolute path';
  const trimmed = isDirectory && path.endsWith('/') ? path.slice(0, -1) : path;
  const segments = trimmed.split('/');
  if (segments.includes('..')) return 'path with a ".." segment';
  if (segments.some((s) => s === '' || s === '.')) return 'path not in normal form (empty or "." segment)';
  if (trimmed === MANIFEST_PATH || trimmed === AGENT_PATH || trimmed === APPLIED_PATH) return isDirectory ? 'a folder where fleetd keeps a file' : undefined;
  if (trimmed === 'fleetd' && isDirectory) return undefined;
  if (segments[0] !== HOME_PREFIX) return 'outside the roots of an agent backup (fleetd-backup.json, fleetd/, home/)';
  if (segments.length === 1) return isDirectory ? undefined : 'a file where the home folder belongs';
  const cls = classifyHomePath(segments.slice(1));
  if (cls === 'tmp' || cls === 'other') return `outside the roots of an agent backup (home/${segments[1]} is never archived)`;
  return undefined;
}

/** The normalized form of an archive path (no trailing slash). */
export function normalizeArchivePath(path: string): string {
  return path.endsWith('/') ? path.slice(0, -1) : path;
}
