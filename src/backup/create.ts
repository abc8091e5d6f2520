// Making an agent backup: stage the home (stage.ts), add fleetd's own records and the
// manifest, and stream the staging folder out as a tar.gz built by the `tar` package (no
// hand-written tar: headers, long paths and pax records are its job). The staging folder
// is removed once the stream ends, fails, or is abandoned.
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { create as createTar } from 'tar';
import { AGENT_PATH, APPLIED_PATH, BACKUP_FORMAT, MANIFEST_PATH, type IncludeOptions } from './layout.js';
import { backupManifestSchema, type AgentRecord, type BackupManifest } from './manifest.js';
import { stageHome } from './stage.js';

/** Inputs of createBackup. */
export interface CreateBackupInput {
  address: string;
  fleet: string;
  agent: string;
  source: 'manifest' | 'cli';
  home: string;
  /** Private folder (0700) the staging copy is made in: fleetd's own per-agent folder. */
  stagingParent: string;
  include: IncludeOptions;
  running: boolean;
  openclawVersion: string | null;
  /** A Node with node:sqlite (the agent's runtime's), when there is one. */
  sqliteNode: string | undefined;
  record: AgentRecord;
  /** fleetd's last-applied openclaw.json record (archived when it exists). */
  appliedConfigPath: string;
  fleetdVersion: string;
  now: () => Date;
}

/** A backup ready to stream. */
export interface CreatedBackup {
  manifest: BackupManifest;
  /** The tar.gz bytes; the staging folder is gone once it ends (or is destroyed), or after `discard`. */
  stream: Readable;
  /** Removes the staging folder (call when the stream is not consumed to its end). */
  discard: () => Promise<void>;
}

/** Stages an agent's files and returns the archive as a stream plus its manifest. */
export async function createBackup(input: CreateBackupInput): Promise<CreatedBackup> {
  await mkdir(input.stagingParent, { recursive: true, mode: 0o700 });
  const staging = await mkdtemp(join(input.stagingParent, 'backup-'));
  const discard = () => rm(staging, { recursive: true, force: true });
  try {
    const home = await stageHome({ home: input.home, staging, include: input.include, running: input.running, sqliteNode: input.sqliteNode, address: input.address });
    await mkdir(join(staging, 'fleetd'), { mode: 0o700 });
    const files = [await writeStaged(staging, AGENT_PATH, `${JSON.stringify(input.record, null, 2)}\n`)];
    const applied = await readPrivate(input.appliedConfigPath);
    if (applied !== undefined) files.push(await writeStaged(staging, APPLIED_PATH, applied));
    const manifest = backupManifestSchema.parse({
      format: BACKUP_FORMAT,
      kind: 'openclaw-fleetd agent backup',
      agent: { address: input.address, fleet: input.fleet, agent: input.agent, source: input.source },
      openclaw: { version: input.openclawVersion },
      createdAt: input.now().toISOString(),
      fleetdVersion: input.fleetdVersion,
      agentWasRunning: input.running,
      include: input.include,
      databases: home.databases,
      dirs: ['fleetd', ...home.dirs],
      files: [...files, ...home.files],
      leftOut: home.leftOut,
    } satisfies BackupManifest);
    await writeFile(join(staging, MANIFEST_PATH), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    const byDir = filesByDir(manifest);
    const entries = [MANIFEST_PATH, ...manifest.dirs.flatMap((d) => [d, ...(byDir.get(d) ?? [])])];
    // noDirRecurse: every entry is listed (parents first); portable: no uid/gid/user names
    const tar = createTar({ gzip: true, cwd: staging, portable: true, noDirRecurse: true, follow: false, strict: true }, entries);
    // The staging folder is removed before the stream ends (or when the reader gives up).
    async function* bytes(): AsyncGenerator<Buffer> {
      try {
        for await (const chunk of tar as unknown as AsyncIterable<Buffer>) yield chunk;
      } finally {
        await discard();
      }
    }
    return { manifest, stream: Readable.from(bytes(), { objectMode: false }), discard };
  } catch (err) {
    await discard();
    throw err;
  }
}

/** The manifest's files by the folder they sit in directly. */
function filesByDir(manifest: BackupManifest): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const file of manifest.files) {
    const dir = file.path.slice(0, file.path.lastIndexOf('/'));
    const list = out.get(dir);
    if (list) list.push(file.path);
    else out.set(dir, [file.path]);
  }
  return out;
}

/** Writes one of fleetd's records into the staging folder; returns its manifest entry. */
async function writeStaged(staging: string, path: string, text: string): Promise<BackupManifest['files'][number]> {
  const data = Buffer.from(text, 'utf8');
  await writeFile(join(staging, path), data, { mode: 0o600, flag: 'wx' });
  return { path, size: data.length, sha256: createHash('sha256').update(data).digest('hex'), mode: 0o600 };
}

/** Reads one of fleetd's own files (no link followed); undefined when absent. */
async function readPrivate(path: string): Promise<string | undefined> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => undefined);
  if (!handle) return undefined;
  try {
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}
