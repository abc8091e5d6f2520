import { VERSION } from '../../version.js';
import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';

/** GET /v1/health: fleetd answers, with its pid and version. */
export const healthHandler = (_ctx: DaemonContext): Handler<'health'> => async () => ({ ok: true, pid: process.pid, version: VERSION });
