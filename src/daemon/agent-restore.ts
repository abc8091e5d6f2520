// `fleetctl restore F/A FILE [--new-token] [--no-start]`: the archive arrives as the request
// body and lands in a private work folder; the WHOLE archive is verified (backup/verify.ts)
// and extracted there before anything of the agent is touched. Then, in the fleet's queue
// (no start, stop or reload of the agent meanwhile): the agent must be stopped (or not
// exist: it is then added as a CLI agent with the archived spec and a free port block);
// the extracted home replaces the current one (kept aside, not deleted), fleetd's
// last-applied record and the token come back (or a new token), openclaw.json is merged
// with the current port and token (all of this in the fleet's restore command, so no add,
// remove or reload interleaves), and the agent starts unless --no-start.
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, statfs, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { IncomingMessage } from 'node:http';
import { installHome } from '../backup/install-home.js';
import { DEFAULT_LIMITS, HOME_PREFIX } from '../backup/layout.js';
import type { VerifiedArchive } from '../backup/verify.js';
import { FleetError } from '../errors.js';
import { writeAppliedConfig } from '../provision/config-file.js';
import { parseConfigText } from '../provision/config-file.js';
import { agentPaths, ensureSupervisorDir } from '../provision/home.js';
import { generateToken } from '../provision/token.js';
import type { ResponseBody } from '../protocol/schemas.js';
import type { DaemonContext } from './context.js';
import { checkPurgeTarget } from './purge.js';
import { firstUse } from '../util/first-use.js';

/** Options of a restore (from the query string). */
export interface RestoreOptions {
  newToken: boolean;
  start: boolean;
}

/** Receives, verifies and restores an archive onto `fleet/agent`. */
export async function restoreAgent(ctx: DaemonContext, fleetId: string, agentId: string, upload: IncomingMessage, options: RestoreOptions): Promise<ResponseBody<'restore'>> {
  const address = `${fleetId}/${agentId}`;
  const stateDir = ctx.fleet.manifest.stateDir;
  refuseActive(ctx, address); // early, before a large upload is read (checked again in the queue)
  const paths = agentPaths(stateDir, fleetId, agentId);
  await ensureSupervisorDir(stateDir, fleetId, paths);
  const supervisor = paths.supervisorDir;
  const work = await mkdtemp(join(supervisor, 'restore-'));
  try {
    const archive = join(work, 'archive.tar.gz');
    await receive(upload, archive, supervisor);
    // loaded on first use: the archive code (tar) stays out of an idle fleetd's memory
    const [{ verifyArchive }, { extractArchive }] = await firstUse('restores', () => Promise.all([import('../backup/verify.js'), import('../backup/extract.js')]));
    const verified = await verifyArchive(archive);
    const from = verified.manifest.agent.address;
    if (from !== address && !options.newToken) {
      throw new FleetError('REFUSED', `the archive is a backup of ${from}, not ${address}; restoring it onto another agent needs --new-token (two agents must never share a token)`);
    }
    const extracted = join(work, 'x');
    await extractArchive(archive, extracted, verified.manifest);
    await unlink(archive); // the bytes are in place; free the space before the home moves
    return await swapIn(ctx, { fleetId, agentId, address, verified, staged: join(extracted, HOME_PREFIX), supervisor, options });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Streams the request body into `file` (0600), bounded by the archive limit and the free space. */
async function receive(upload: IncomingMessage, file: string, dir: string): Promise<void> {
  const fs = await statfs(dir);
  const room = Math.min(DEFAULT_LIMITS.maxTotalBytes, Math.floor(fs.bavail * fs.bsize * 0.9));
  const declared = Number(upload.headers['content-length'] ?? 0);
  if (declared > room) throw new FleetError('ARCHIVE_INVALID', `refused archive: ${declared} bytes, more than the ${room} bytes fleetd accepts here (archive limit or free space); nothing was written`);
  let received = 0;
  const limit = new Transform({
    transform(chunk: Buffer, _enc, done) {
      received += chunk.length;
      if (received > room) done(new FleetError('ARCHIVE_INVALID', `refused archive: more than the ${room} bytes fleetd accepts here (archive limit or free space); nothing was written`));
      else done(null, chunk);
    },
  });
  await pipeline(upload, limit, createWriteStream(file, { mode: 0o600, flags: 'wx' }));
  if (received === 0) throw new FleetError('ARCHIVE_INVALID', 'refused archive: the upload was empty; nothing was written');
}

/** CONFLICT unless the agent is stopped (or unknown). */
function refuseActive(ctx: DaemonContext, address: string): void {
  if (!ctx.fleet.addresses().includes(address as never) || !ctx.fleet.isActive(address)) return;
  const view = ctx.fleet.view(address);
  throw new FleetError('CONFLICT', `${address} is ${view.state}; a restore replaces its home, so stop it first: \`fleetctl stop agent ${address}\``);
}

/** What swapIn works with. */
interface SwapInput {
  fleetId: string;
  agentId: string;
  address: string;
  verified: VerifiedArchive;
  staged: string;
  supervisor: string;
  options: RestoreOptions;
}

/** The part of a restore that changes the agent: the fleet's restore command, then a start unless --no-start. */
async function swapIn(ctx: DaemonContext, input: SwapInput): Promise<ResponseBody<'restore'>> {
  const { fleet } = ctx;
  const m = fleet.manifest;
  const { address, verified, options } = input;
  let previousHome: string | null = null;
  const { created } = await fleet.restoreAgent({
    fleet: input.fleetId,
    agent: input.agentId,
    spec: verified.record.spec,
    token: options.newToken ? generateToken() : verified.record.token,
    start: options.start,
    install: async () => {
      const current = await checkPurgeTarget(m.stateDir, input.fleetId, input.agentId);
      previousHome = await installHome({ stateDir: m.stateDir, fleet: input.fleetId, agent: input.agentId, staged: input.staged, current, asideDir: input.supervisor, now: () => new Date() });
      const appliedPath = agentPaths(m.stateDir, input.fleetId, input.agentId).appliedConfig;
      if (verified.appliedText !== undefined) await writeAppliedConfig(appliedPath, parseConfigText(verified.appliedText, `${appliedPath} (from the archive)`));
      else await rm(appliedPath, { force: true });
    },
  });
  ctx.logger.info({ agent: address, from: verified.manifest.agent.address, files: verified.files, previousHome, newToken: options.newToken, created }, 'agent restored from a backup');
  let started = false;
  if (options.start && fleet.describe(address).desired.enabled) {
    const view = await fleet.start(address, { wait: true }).catch(() => fleet.view(address));
    started = view.state === 'running';
  }
  const view = fleet.view(address);
  return {
    address,
    files: verified.files,
    bytes: verified.bytes,
    port: view.port,
    newToken: options.newToken,
    created,
    previousHome,
    started,
    state: view.state,
  };
}
