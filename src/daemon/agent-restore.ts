// `fleetctl restore F/A FILE [--new-token] [--no-start]`: the archive arrives as the request
// body and lands in a private work folder; the WHOLE archive is verified (backup/verify.ts)
// and extracted there before anything of the agent is touched. Then, in the fleet's queue
// (no start, stop or reload of the agent meanwhile): the agent must be stopped (or not
// exist: it is then added as a CLI agent with the archived spec and a free port block);
// the extracted home replaces the current one (kept aside, not deleted), fleetd's
// last-applied record and the token come back (or a new token), openclaw.json is merged
// with the current port and token, and the agent starts unless --no-start.
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, statfs, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { IncomingMessage } from 'node:http';
import { extractArchive } from '../backup/extract.js';
import { installHome } from '../backup/install-home.js';
import { DEFAULT_LIMITS, HOME_PREFIX } from '../backup/layout.js';
import { verifyArchive, type VerifiedArchive } from '../backup/verify.js';
import { FleetError } from '../errors.js';
import { toAddress } from '../manifest/ids.js';
import { desiredAgents, launchOf } from '../plan/desired.js';
import type { DesiredAgent } from '../plan/types.js';
import { writeAppliedConfig } from '../provision/config-file.js';
import { parseConfigText } from '../provision/config-file.js';
import { ensureEntry } from '../provision/ensure-entry.js';
import { appliedConfigPath, ensureSupervisorDir } from '../provision/supervisor-dir.js';
import { generateToken } from '../provision/token.js';
import type { ResponseBody } from '../protocol/schemas.js';
import { checkAddedAgent } from './handlers/add-agent.js';
import { isAgentActive } from './agent-backup.js';
import type { DaemonContext } from './context.js';
import { checkPurgeTarget } from './purge.js';

/** Options of a restore (from the query string). */
export interface RestoreOptions {
  newToken: boolean;
  start: boolean;
}

/** Receives, verifies and restores an archive onto `fleet/agent`. */
export async function restoreAgent(ctx: DaemonContext, fleetId: string, agentId: string, upload: IncomingMessage, options: RestoreOptions): Promise<ResponseBody<'restore'>> {
  const address = toAddress(fleetId, agentId);
  const stateDir = ctx.fleet.manifest.stateDir;
  refuseActive(ctx, address); // early, before a large upload is read (checked again in the queue)
  const supervisor = await ensureSupervisorDir(stateDir, fleetId, agentId);
  const work = await mkdtemp(join(supervisor, 'restore-'));
  try {
    const archive = join(work, 'archive.tar.gz');
    await receive(upload, archive, supervisor);
    const verified = await verifyArchive(archive);
    const from = verified.manifest.agent.address;
    if (from !== address && !options.newToken) {
      throw new FleetError('REFUSED', `the archive is a backup of ${from}, not ${address}; restoring it onto another agent needs --new-token (two agents must never share a token)`);
    }
    const extracted = join(work, 'x');
    await extractArchive(archive, extracted, verified.manifest);
    await unlink(archive); // the bytes are in place; free the space before the home moves
    return await ctx.fleet.queue.run(() => swapIn(ctx, { fleetId, agentId, address, verified, staged: join(extracted, HOME_PREFIX), supervisor, options }));
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
  if (!ctx.fleet.slots.has(address) || !isAgentActive(ctx.fleet, address)) return;
  const view = ctx.fleet.viewOf(address);
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

/** The part of a restore that changes the agent; runs in the fleet's queue. */
async function swapIn(ctx: DaemonContext, input: SwapInput): Promise<ResponseBody<'restore'>> {
  const { fleet } = ctx;
  const m = fleet.manifest;
  const { address, verified, options } = input;
  let slot = fleet.slots.get(address);
  let created = false;
  if (slot) {
    refuseActive(ctx, address);
  } else {
    if (m.fleets[input.fleetId]?.agents[input.agentId]) throw new FleetError('CONFLICT', `${address} is declared in the manifest but not set up yet; try again once \`fleetctl status\` lists it`);
    const { spec } = verified.record;
    const problems = checkAddedAgent(m.ports, input.fleetId, input.agentId, spec.config, spec.env);
    if (problems.length > 0) throw new FleetError('BAD_REQUEST', `the archived agent cannot be added under this manifest:\n${problems.join('\n')}`, { details: { problems } });
    await fleet.persist(async (r) => {
      const stub: DesiredAgent = { address: address as DesiredAgent['address'], fleet: input.fleetId, agent: input.agentId, source: 'cli', enabled: true, config: {}, env: {}, launch: launchOf(m, input.fleetId, input.agentId) };
      const ensured = await ensureEntry(r, stub, { ports: m.ports, now: () => new Date(ctx.now()), spec });
      ensured.entry.desired = 'stopped';
    });
    slot = { desired: desiredAgents(m, fleet.registry).find((d) => d.address === address)! };
    fleet.slots.set(address, slot);
    created = true;
  }
  const current = await checkPurgeTarget(m.stateDir, input.fleetId, input.agentId);
  const previousHome = await installHome({ stateDir: m.stateDir, fleet: input.fleetId, agent: input.agentId, staged: input.staged, current, asideDir: input.supervisor, now: () => new Date(ctx.now()) });
  const appliedPath = appliedConfigPath(m.stateDir, input.fleetId, input.agentId);
  if (verified.appliedText !== undefined) await writeAppliedConfig(appliedPath, parseConfigText(verified.appliedText, `${appliedPath} (from the archive)`));
  else await rm(appliedPath, { force: true });
  await fleet.persist((r) => {
    const entry = r.agents[address];
    if (!entry) return;
    entry.token = options.newToken ? generateToken() : verified.record.token;
    entry.desired = options.start ? 'running' : 'stopped';
  });
  ctx.logger.info({ agent: address, from: verified.manifest.agent.address, files: verified.files, previousHome, newToken: options.newToken, created }, 'agent restored from a backup');
  await fleet.provisionOnly(slot); // openclaw.json merged with the current port and token
  let started = false;
  if (options.start && slot.desired.enabled) {
    const status = await fleet.launch(slot, 'start');
    started = status?.state === 'running';
  }
  const view = fleet.viewOf(address);
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
