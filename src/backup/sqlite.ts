// Consistent copies of an agent's SQLite databases. Copying a live WAL database file by
// file gives a torn copy (the -wal holds committed pages the main file does not have yet);
// SQLite's online backup API reads a consistent snapshot while the gateway keeps writing.
// fleetd's own Node (20) has no node:sqlite, so the copy runs in a short child process on
// a Node that has it: the agent's pinned runtime's (OpenClaw needs Node >= 24). The copy
// is integrity-checked and switched out of WAL mode, so it is one self-contained file.
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { FleetError } from '../errors.js';

/** The 16 bytes every SQLite 3 database starts with. */
const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

/** Longest a single database copy may take. */
const SNAPSHOT_TIMEOUT_MS = 10 * 60_000;

/** True when the file at `path` is a SQLite database (by its header; links are not followed). */
export async function isSqliteFile(path: string): Promise<boolean> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => undefined);
  if (!handle) return false;
  try {
    const buf = Buffer.alloc(SQLITE_MAGIC.length);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    return bytesRead === SQLITE_MAGIC.length && buf.equals(SQLITE_MAGIC);
  } finally {
    await handle.close();
  }
}

// Runs under the runtime's Node: read-only connection (no checkpoint, no write to the live
// database), online backup, integrity check of the copy, rollback journal instead of WAL.
const SNAPSHOT_SCRIPT = `
import { DatabaseSync, backup } from 'node:sqlite';
const [src, dst] = process.argv.slice(1);
const db = new DatabaseSync(src, { readOnly: true, timeout: 30000 });
try { await backup(db, dst); } finally { db.close(); }
const copy = new DatabaseSync(dst);
try {
  const check = copy.prepare('PRAGMA integrity_check').get();
  if (!check || check.integrity_check !== 'ok') { console.error('integrity check of the copy failed: ' + JSON.stringify(check)); process.exit(2); }
  copy.prepare('PRAGMA journal_mode=DELETE').get();
} finally { copy.close(); }
`;

/** Runs a snapshot script argument check: true when `node` has node:sqlite with the backup API. */
export function nodeHasSqliteBackup(node: string): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(node, ['--input-type=module', '-e', "import { backup } from 'node:sqlite'; if (typeof backup !== 'function') process.exit(3);"], { timeout: 30_000, env: { PATH: '/usr/bin:/bin' } }, (err) => resolve(!err));
  });
}

/** Copies the database `src` to `dst` consistently with `node` (a Node with node:sqlite). */
export function snapshotSqlite(node: string, src: string, dst: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      node,
      ['--no-warnings', '--input-type=module', '-e', SNAPSHOT_SCRIPT, src, dst],
      { timeout: SNAPSHOT_TIMEOUT_MS, env: { PATH: '/usr/bin:/bin' }, maxBuffer: 1024 * 1024 },
      (err, _stdout, stderr) => {
        if (!err) return resolve();
        const why = stderr.trim().split('\n').slice(-3).join(' ') || err.message;
        reject(new FleetError('INTERNAL', `could not copy the SQLite database ${src} consistently: ${why}`, { cause: err }));
      },
    );
  });
}
