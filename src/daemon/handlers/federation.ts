import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';

/** GET /v1/federation: call graph, knowledge, mailbox backlogs (no tokens). */
export const federationHandler = (ctx: DaemonContext): Handler<'federation'> => async () => ctx.fleet.federation();
