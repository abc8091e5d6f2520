import { VERSION } from '../../version.js';
import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';

/** GET /v1/agents: every agent's state, and fleetd's own facts. */
export const statusHandler = (ctx: DaemonContext): Handler<'status'> => async () => {
  const m = ctx.fleet.manifest;
  return {
    daemon: { pid: process.pid, version: VERSION, manifest: m.manifestPath, stateDir: m.stateDir, socket: m.socket, startedAt: ctx.startedAt, rssBytes: process.memoryUsage().rss },
    agents: ctx.fleet.views(),
  };
};
