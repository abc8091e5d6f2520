import { FleetError } from '../../errors.js';
import { removeRuntime } from '../../runtime/index.js';
import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';
import { versionsInUse } from './runtime-usage.js';

/** DELETE /v1/runtimes/:version: removes one installed version no agent uses. */
export const removeRuntimeHandler = (ctx: DaemonContext): Handler<'removeRuntime'> => async ({ params }) =>
  ctx.fleet.queue.run(async () => {
    const version = params.version!;
    const users = versionsInUse(ctx).get(version);
    if (users?.length) throw new FleetError('REFUSED', `openclaw ${version} is used by ${users.join(', ')}; move them to another version and reload first`);
    await removeRuntime(ctx.fleet.manifest.runtimesDir, version);
    ctx.logger.info({ runtime: version }, 'runtime removed');
    return { removed: version };
  });
