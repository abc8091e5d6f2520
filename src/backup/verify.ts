// Checks a WHOLE archive before anything of it is extracted: every entry's type (regular
// files and folders only: no symlink, hard link, device, FIFO), path (relative, normal form,
// no "..", inside the known roots, not twice), size (within limits, as the manifest says)
// and content (sha256 as the manifest says); the manifest must list exactly the files
// present. The first problem stops the read and is reported with the entry and the reason.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Parser, type ReadEntry } from 'tar';
import { FleetError } from '../errors.js';
import { AGENT_PATH, APPLIED_PATH, checkArchivePath, DEFAULT_LIMITS, MANIFEST_PATH, normalizeArchivePath, type ArchiveLimits } from './layout.js';
import { agentRecordSchema, backupManifestSchema, type AgentRecord, type BackupManifest } from './manifest.js';

/** Entry types an agent backup may hold. */
const ALLOWED_TYPES = new Set(['File', 'OldFile', 'Directory']);

/** Words for the refused entry types. */
const TYPE_WORDS: Record<string, string> = {
  SymbolicLink: 'a symbolic link',
  Link: 'a hard link',
  CharacterDevice: 'a character device',
  BlockDevice: 'a block device',
  FIFO: 'a FIFO',
  ContiguousFile: 'a contiguous file (unusual type)',
};

/** A verified archive: its manifest, agent record and fleetd's last-applied config. */
export interface VerifiedArchive {
  manifest: BackupManifest;
  record: AgentRecord;
  /** fleetd/config.applied.json text, when the archive has one. */
  appliedText: string | undefined;
  files: number;
  bytes: number;
}

/** One file entry as read. */
interface SeenFile {
  size: number;
  sha256: string;
}

/** Reads the whole archive at `file` and checks it; ARCHIVE_INVALID names the entry and why. */
export async function verifyArchive(file: string, limits: ArchiveLimits = DEFAULT_LIMITS): Promise<VerifiedArchive> {
  const seen = new Map<string, SeenFile | 'dir'>();
  const texts = new Map<string, string>();
  let entries = 0;
  let total = 0;
  await new Promise<void>((resolve, reject) => {
    let failed = false;
    const input = createReadStream(file);
    const parser = new Parser({
      strict: true,
      maxDecompressionRatio: Infinity, // bounded by our own byte limits instead (a sparse database compresses very well)
      onReadEntry: (entry: ReadEntry) => {
        const problem = checkEntry(entry);
        if (problem) return fail(`entry ${JSON.stringify(entry.path.slice(0, 300))}: ${problem}`);
        const path = normalizeArchivePath(entry.path);
        if (entry.type === 'Directory') {
          seen.set(path, 'dir');
          entry.resume();
          return;
        }
        const hash = createHash('sha256');
        const keep = path === MANIFEST_PATH || path === AGENT_PATH || path === APPLIED_PATH;
        const chunks: Buffer[] = [];
        let size = 0;
        entry.on('data', (chunk: Buffer) => {
          hash.update(chunk);
          size += chunk.length;
          if (keep) chunks.push(chunk);
        });
        entry.on('end', () => {
          seen.set(path, { size, sha256: hash.digest('hex') });
          if (keep) texts.set(path, Buffer.concat(chunks).toString('utf8'));
        });
      },
    });
    const fail = (message: string) => {
      if (failed) return;
      failed = true;
      input.destroy();
      reject(new FleetError('ARCHIVE_INVALID', `refused archive: ${message}; nothing was written`));
    };
    const checkEntry = (entry: ReadEntry): string | undefined => {
      if (++entries > limits.maxEntries) return `more than ${limits.maxEntries} entries`;
      if (!ALLOWED_TYPES.has(entry.type)) return `is ${TYPE_WORDS[entry.type] ?? `of type ${entry.type}`}; an agent backup holds only regular files and folders`;
      const isDir = entry.type === 'Directory';
      const bad = checkArchivePath(entry.path, isDir, limits);
      if (bad) return bad;
      const path = normalizeArchivePath(entry.path);
      if (seen.has(path)) return 'appears twice in the archive';
      const size = entry.size ?? 0;
      if (size > limits.maxEntryBytes) return `is ${size} bytes, over the ${limits.maxEntryBytes}-byte limit of one file`;
      if ((path === MANIFEST_PATH || path === AGENT_PATH || path === APPLIED_PATH) && size > limits.maxManifestBytes) return `is ${size} bytes, over the ${limits.maxManifestBytes} bytes fleetd reads from its own records`;
      total += size;
      if (total > limits.maxTotalBytes) return `brings the content past the ${limits.maxTotalBytes}-byte limit of an archive`;
      return undefined;
    };
    parser.on('warn', (code: string, message: string) => fail(`${message} (${code})`));
    parser.on('error', (err: Error) => fail(`not a readable tar.gz: ${err.message}`));
    parser.on('end', () => {
      if (!failed) resolve();
    });
    input.on('error', (err) => fail(`cannot read it: ${err.message}`));
    input.pipe(parser);
  });
  return checkAgainstManifest(seen, texts, total);
}

/** Compares what was read with the manifest: exactly its files, with their sizes and hashes. */
function checkAgainstManifest(seen: Map<string, SeenFile | 'dir'>, texts: Map<string, string>, bytes: number): VerifiedArchive {
  const invalid = (message: string) => new FleetError('ARCHIVE_INVALID', `refused archive: ${message}; nothing was written`);
  const manifest = parseRecord(texts.get(MANIFEST_PATH), MANIFEST_PATH, (v) => backupManifestSchema.safeParse(v), invalid);
  const record = parseRecord(texts.get(AGENT_PATH), AGENT_PATH, (v) => agentRecordSchema.safeParse(v), invalid);
  const listed = new Map(manifest.files.map((f) => [f.path, f]));
  if (listed.size !== manifest.files.length) throw invalid(`${MANIFEST_PATH} lists a file twice`);
  const dirs = new Set(manifest.dirs);
  let files = 0;
  for (const [path, what] of seen) {
    if (what === 'dir') {
      if (!dirs.has(path)) throw invalid(`entry ${JSON.stringify(path)}: a folder the manifest does not list`);
      continue;
    }
    if (path === MANIFEST_PATH) continue;
    const entry = listed.get(path);
    if (!entry) throw invalid(`entry ${JSON.stringify(path)}: a file the manifest does not list`);
    if (entry.size !== what.size) throw invalid(`entry ${JSON.stringify(path)}: holds ${what.size} bytes, the manifest says ${entry.size}`);
    if (entry.sha256 !== what.sha256) throw invalid(`entry ${JSON.stringify(path)}: its content does not match the manifest's sha256 (damaged or altered)`);
    files++;
  }
  for (const entry of manifest.files) {
    if (!seen.has(entry.path)) throw invalid(`${entry.path} is listed in the manifest but missing from the archive (truncated?)`);
  }
  return { manifest, record, appliedText: texts.get(APPLIED_PATH), files, bytes };
}

/** Parses one of fleetd's JSON records of the archive with its schema. */
function parseRecord<T>(
  text: string | undefined,
  path: string,
  parse: (value: unknown) => { success: true; data: T } | { success: false; error: { issues: Array<{ path: PropertyKey[]; message: string }> } },
  invalid: (message: string) => FleetError,
): T {
  if (text === undefined) throw invalid(`it has no ${path}: not an agent backup made by fleetd`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw invalid(`${path} is not JSON (${(err as Error).message})`);
  }
  const parsed = parse(value);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw invalid(`${path}${first?.path.length ? `: ${first.path.map(String).join('.')}` : ''}: ${first?.message ?? 'invalid'}`);
  }
  return parsed.data;
}
