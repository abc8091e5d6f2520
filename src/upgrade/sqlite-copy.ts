// A WAL-consistent copy of one SQLite database: SQLite's online backup API, run by a Node
// that has `node:sqlite` with `backup()` (22.16+, 23.8+; every OpenClaw runtime's Node
// has it, fleetd's own Node 20 does not, so it runs as a child process of the runtime's
// node). The whole database is copied in ONE backup step, i.e. inside one read
// transaction: the copy is the database as of one instant, committed WAL frames included,
// while a gateway may still be writing. The result is one consolidated file (mode 0600)
// with no -wal/-shm/-journal sidecar, which is what `openclaw database preflight` needs.
import { chmod, rm } from 'node:fs/promises';
import { FleetError } from '../errors.js';
import { firstUse } from '../util/first-use.js';

// argv: [source, target]. Prints {"pages":N}. Pages per step must be a positive int32:
// the largest one copies everything in a single sqlite3_backup_step.
const BACKUP_SCRIPT = `
import { DatabaseSync, backup } from 'node:sqlite';
const [source, target] = process.argv.slice(1);
const db = new DatabaseSync(source, { readOnly: true });
try {
  const pages = await backup(db, target, { rate: 2147483647 });
  process.stdout.write(JSON.stringify({ pages }) + '\\n');
} finally {
  db.close();
}
`;

/** Inputs of copySqlite. */
export interface SqliteCopyOptions {
  /** A node binary with node:sqlite backup (a runtime's node). */
  node: string;
  source: string;
  /** Must not exist yet. */
  target: string;
  timeoutMs?: number;
}

/** Copies `source` to `target` consistently; RUNTIME_FAILED naming the database otherwise (no partial target is left). */
export async function copySqlite(o: SqliteCopyOptions): Promise<{ pages: number }> {
  const { execa } = await firstUse('copying an SQLite database', () => import('execa')); // loaded on first use (snapshots only)
  const result = await execa(o.node, ['--input-type=module', '-e', BACKUP_SCRIPT, o.source, o.target], {
    env: { PATH: '/usr/bin:/bin', NODE_NO_WARNINGS: '1' },
    extendEnv: false,
    stdin: 'ignore',
    reject: false,
    timeout: o.timeoutMs ?? 10 * 60_000,
  });
  const pages = /"pages":(\d+)/.exec(String(result.stdout ?? ''))?.[1];
  if (result.exitCode !== 0 || pages === undefined) {
    await rm(o.target, { force: true });
    const why = String(result.stderr ?? '').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('at ')).slice(-2).join(' ') || result.shortMessage;
    throw new FleetError('RUNTIME_FAILED', `cannot copy the SQLite database ${o.source} consistently with ${o.node}: ${why}`);
  }
  await chmod(o.target, 0o600);
  return { pages: Number(pages) };
}

/** The 16-byte header every SQLite 3 database file starts with. */
export const SQLITE_HEADER = 'SQLite format 3\0';
