// GET /v1/agents/:fleet/:agent/backup?logs=1&cache=1: the agent's archive as raw tar.gz
// bytes (the token is inside: only fleetctl's 0600 file ever holds them).
import { ensureSupervisorDir } from '../../provision/home.js';
import { agentFacts } from '../agent-facts.js';
import { parseFlag } from '../query.js';
import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';
import { firstUse } from '../../util/first-use.js';

/** The backup route. */
export const backupHandler = (ctx: DaemonContext): Handler<'backup'> => async ({ params, query, signal }) => {
  const facts = agentFacts(ctx.fleet, params.fleet!, params.agent!);
  const include = { logs: parseFlag('logs', query.get('logs')), cache: parseFlag('cache', query.get('cache')) };
  await ensureSupervisorDir(ctx.fleet.manifest.stateDir, params.fleet!, facts.effective.paths);
  // loaded on first use: the archive code (tar) stays out of an idle fleetd's memory
  const { backupAgent } = await firstUse('backups', () => import('../agent-backup.js'));
  const backup = await backupAgent(ctx.fleet, facts, include, Date.now);
  signal.addEventListener('abort', () => void backup.discard(), { once: true });
  const { manifest } = backup;
  ctx.logger.info(
    { agent: facts.address, files: manifest.files.length, bytes: manifest.files.reduce((n, f) => n + f.size, 0), databases: manifest.databases.length, running: manifest.agentWasRunning },
    'backup made',
  );
  return { download: backup.stream, contentType: 'application/gzip' };
};
