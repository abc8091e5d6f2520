// `fleetctl backup FLEET/AGENT [-o FILE] [--include-logs] [--include-cache]` and
// `fleetctl restore FLEET/AGENT FILE [--new-token] [--no-start]`. fleetd makes and applies
// archives (it can read and write every home); fleetctl moves the bytes: a backup is
// written to a private temp file next to FILE, verified whole, then linked into place
// (an existing FILE is never overwritten) with mode 0600: it holds the agent's token.
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { link, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import type { VerifiedArchive } from '../../backup/verify.js';
import { FleetError } from '../../errors.js';
import { callRaw, download } from '../../protocol/client.js';
import { requireAddress } from '../address.js';
import { globalsOf, type CliRun } from '../context.js';
import { formatBytes } from '../format.js';
import { checkFileToCreate, checkFileToRead } from '../operator-paths.js';
import { note, printJson, printLines } from '../output.js';

/** Default archive name: `<fleet>-<agent>-<UTC time>.fleetd-backup.tar.gz`. */
export function defaultArchiveName(fleet: string, agent: string, now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${fleet}-${agent}-${stamp}.fleetd-backup.tar.gz`;
}

/** Registers `backup` and `restore`. */
export function registerBackup(program: Command, run: CliRun): void {
  program
    .command('backup')
    .description('write a consistent archive of an agent: config, token, state databases, credentials, workspace (mode 0600)')
    .argument('<FLEET/AGENT>', 'address of the agent')
    .option('-o, --output <FILE>', 'archive to write (never overwritten); - writes to stdout', undefined)
    .option('--include-logs', 'also archive its logs/ folder')
    .option('--include-cache', 'also archive its caches (.cache, .npm, .openclaw/cache)')
    .addHelpText('after', '\nThe agent may run: SQLite databases are copied through SQLite\'s backup API, files as they are at\nthe moment they are read. Temporary files are never archived. Restore with `fleetctl restore`.')
    .action(async (addressText: string, opts: { output?: string; includeLogs?: boolean; includeCache?: boolean }, cmd: Command) => {
      const params = requireAddress(addressText);
      const { socket, json } = globalsOf(cmd, run.deps);
      const target = opts.output ?? defaultArchiveName(params.fleet, params.agent, new Date(run.deps.now()));
      const query = { logs: opts.includeLogs ? '1' : '0', cache: opts.includeCache ? '1' : '0' };
      if (target === '-') {
        if (process.stdout.isTTY) throw new FleetError('USAGE', 'refusing to write an archive to a terminal; redirect stdout or give -o FILE');
        const res = await download(socket, 'backup', { params, query });
        await pipeline(res, process.stdout, { end: false });
        return;
      }
      const file = resolve(run.deps.cwd, target);
      await checkFileToCreate(file, 'choose another -o');
      const res = await download(socket, 'backup', { params, query });
      const verified = await writeVerified(res, file);
      const { manifest } = verified;
      const summary = {
        file,
        address: manifest.agent.address,
        createdAt: manifest.createdAt,
        openclaw: manifest.openclaw.version,
        agentWasRunning: manifest.agentWasRunning,
        files: verified.files,
        bytes: verified.bytes,
        databases: manifest.databases,
        leftOut: manifest.leftOut,
      };
      if (json) return printJson(run.deps.io, summary);
      printLines(run.deps.io, [
        `wrote ${file} (mode 0600; it holds the agent's token)`,
        `${manifest.agent.address}: ${verified.files} files, ${formatBytes(verified.bytes)}, ${describeDatabases(manifest.databases)}`,
        ...(manifest.leftOut.length ? [`left out: ${manifest.leftOut.map((l) => `${l.path} (${l.reason})`).join('; ')}`] : []),
      ]);
    });
  program
    .command('restore')
    .description('restore an agent from a `fleetctl backup` archive onto a stopped or new agent, then start it')
    .argument('<FLEET/AGENT>', 'address of the agent (stopped, or not existing: it is then added)')
    .argument('<FILE>', 'archive written by fleetctl backup (- reads stdin)')
    .option('--new-token', 'give the agent a new gateway token instead of the archived one (needed to restore onto another address)')
    .option('--no-start', 'leave the agent stopped after the restore')
    .addHelpText('after', '\nThe whole archive is checked before anything is written: only regular files and folders, relative\npaths inside the expected roots, sizes and sha256 as its manifest says. The home being replaced is\nkept in fleetd\'s per-agent folder (the answer says where). The agent keeps its port block (a new\nagent gets a free one).')
    .action(async (addressText: string, fileText: string, opts: { newToken?: boolean; start: boolean }, cmd: Command) => {
      const params = requireAddress(addressText);
      const { socket, json } = globalsOf(cmd, run.deps);
      let upload: NodeJS.ReadableStream;
      if (fileText === '-') upload = process.stdin;
      else {
        const file = resolve(run.deps.cwd, fileText);
        await checkFileToRead(file, 'give the archive written by fleetctl backup (a .tar.gz file)');
        upload = createReadStream(file);
      }
      const query = { newToken: opts.newToken ? '1' : '0', start: opts.start ? '1' : '0' };
      const { data, raw } = await callRaw(socket, 'restore', { params, query, upload });
      if (json) return printJson(run.deps.io, raw);
      printLines(run.deps.io, [
        `restored ${data.address}${data.created ? ' (added: it did not exist)' : ''}: ${data.files} files, ${formatBytes(data.bytes)}, port ${data.port}, ${data.newToken ? 'new token' : 'archived token'}`,
        ...(data.previousHome ? [`the home it replaced is kept at ${data.previousHome} (delete it when you no longer need it)`] : []),
        `${data.address}: ${data.state}`,
      ]);
      if (opts.start && !data.started) {
        run.exitCode = 1;
        note(run.deps.io, `fleetctl: ${data.address} was restored but is ${data.state}, not running (see fleetctl status ${data.address} and fleetctl logs ${data.address})`);
      }
    });
}

/** `2 SQLite databases (copied through SQLite's backup API)`, or `no SQLite database`. */
function describeDatabases(databases: ReadonlyArray<{ method: string }>): string {
  if (databases.length === 0) return 'no SQLite database';
  const live = databases.every((d) => d.method === 'sqlite-backup');
  return `${databases.length} SQLite database${databases.length > 1 ? 's' : ''} (${live ? "copied through SQLite's backup API" : 'copied as files while the agent was stopped'})`;
}

/** Writes the download to a private temp file beside `file`, verifies the whole archive, then links it into place. */
async function writeVerified(res: NodeJS.ReadableStream, file: string): Promise<VerifiedArchive> {
  const tmp = join(dirname(file), `.${basename(file)}.partial-${randomBytes(4).toString('hex')}`);
  try {
    await pipeline(res, createWriteStream(tmp, { mode: 0o600, flags: 'wx', flush: true }));
    const { verifyArchive } = await import('../../backup/verify.js'); // tar: loaded only by backup, not by every fleetctl run
    const verified = await verifyArchive(tmp).catch((err: unknown) => {
      throw new FleetError('INTERNAL', `the archive fleetd sent is incomplete or damaged (${(err as Error).message}); nothing was kept`, { cause: err });
    });
    await link(tmp, file).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EEXIST') throw new FleetError('CONFLICT', `${file} appeared while the backup was written; fleetctl never overwrites an archive: choose another -o`);
      throw err;
    });
    return verified;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}
