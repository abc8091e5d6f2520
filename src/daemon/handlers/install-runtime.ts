import { toFleetError } from '../../errors.js';
import type { ProgressEvent } from '../../runtime/types.js';
import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';
import { createPushStream } from '../../util/push-stream.js';

/** POST /v1/runtimes: streams `{progress}` lines, then `{result}` or `{error}`. */
export const installRuntimeHandler = (ctx: DaemonContext): Handler<'installRuntime'> => async ({ body }) => {
  const events = createPushStream<unknown>();
  const push = (item: unknown) => events.push(item);
  ctx
    .runtimes.install(body.version, (event: ProgressEvent) => push({ progress: event }))
    .then((runtime) => push({ result: { version: runtime.version, dir: runtime.dir, nodeVersion: runtime.nodeVersion } }))
    .catch((err) => {
      const e = toFleetError(err, 'RUNTIME_FAILED');
      push({ error: { code: e.code, message: e.message } });
    })
    .finally(() => events.end());
  return { stream: events };
};
