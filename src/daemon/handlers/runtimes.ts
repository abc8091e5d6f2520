// The three runtime routes: list installed OpenClaw versions, install one (NDJSON progress),
// prune the ones no agent uses.
import { listRuntimes, pruneRuntimes, removeRuntime } from '../../runtime/index.js';
import { FleetError } from '../../errors.js';
import type { ProgressEvent } from '../../runtime/types.js';
import { toFleetError } from '../../errors.js';
import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';

/** Versions the fleet's agents are pinned to, with the agents that use each. */
function versionsInUse(ctx: DaemonContext): Map<string, string[]> {
  const used = new Map<string, string[]>();
  for (const slot of ctx.fleet.slots.values()) {
    if (slot.desired.launch.kind !== 'openclaw') continue;
    const list = used.get(slot.desired.launch.version) ?? [];
    list.push(slot.desired.address);
    used.set(slot.desired.launch.version, list);
  }
  return used;
}

/** GET /v1/runtimes. */
export const runtimesHandler = (ctx: DaemonContext): Handler<'runtimes'> => async () => {
  const used = versionsInUse(ctx);
  const installed = await listRuntimes(ctx.fleet.manifest.runtimesDir);
  return {
    runtimes: installed.map((r) => ({ version: r.version, dir: r.dir, nodeVersion: r.nodeVersion, installedAt: r.installedAt ?? null, usedBy: used.get(r.version) ?? [] })),
  };
};

/** POST /v1/runtimes: streams `{progress}` lines, then `{result}` or `{error}`. */
export const installRuntimeHandler = (ctx: DaemonContext): Handler<'installRuntime'> => async ({ body }) => {
  const events: unknown[] = [];
  let wake: (() => void) | undefined;
  let done = false;
  const push = (item: unknown) => {
    events.push(item);
    wake?.();
  };
  ctx
    .installRuntime(body.version, (event: ProgressEvent) => push({ progress: event }))
    .then((runtime) => push({ result: { version: runtime.version, dir: runtime.dir, nodeVersion: runtime.nodeVersion } }))
    .catch((err) => {
      const e = toFleetError(err, 'RUNTIME_FAILED');
      push({ error: { code: e.code, message: e.message } });
    })
    .finally(() => {
      done = true;
      wake?.();
    });
  async function* stream() {
    for (;;) {
      while (events.length > 0) yield events.shift();
      if (done) return;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  }
  return { stream: stream() };
};

/** POST /v1/runtimes/prune. */
export const pruneRuntimesHandler = (ctx: DaemonContext): Handler<'pruneRuntimes'> => async () =>
  ctx.fleet.queue.run(async () => {
    const used = versionsInUse(ctx);
    const removed = await pruneRuntimes(ctx.fleet.manifest.runtimesDir, new Set(used.keys()));
    return { removed, kept: [...used.keys()].sort() };
  });

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
