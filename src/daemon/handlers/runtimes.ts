import { listRuntimes } from '../../runtime/index.js';
import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';
import { versionsInUse } from './runtime-usage.js';

/** GET /v1/runtimes. */
export const runtimesHandler = (ctx: DaemonContext): Handler<'runtimes'> => async () => {
  const used = versionsInUse(ctx);
  const installed = await listRuntimes(ctx.fleet.manifest.runtimesDir);
  return {
    runtimes: installed.map((r) => ({ version: r.version, dir: r.dir, nodeVersion: r.nodeVersion, installedAt: r.installedAt ?? null, usedBy: used.get(r.version) ?? [] })),
  };
};
