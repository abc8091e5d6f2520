import { federationView } from '../../federation/view.js';
import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';

/** GET /v1/federation: call graph, knowledge, mailbox backlogs (no tokens). */
export const federationHandler = (ctx: DaemonContext): Handler<'federation'> => async () => federationView(ctx.fleet.manifest, ctx.fleet.registry);
