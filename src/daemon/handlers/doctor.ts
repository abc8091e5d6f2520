// GET /v1/doctor and GET /v1/agents/:fleet/:agent/doctor[?openclaw=0]: fleetctl doctor.
import { toAddress } from '../../manifest/ids.js';
import { runDoctor } from '../../doctor/run-doctor.js';
import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';

/** The whole installation. */
export const doctorHandler = (ctx: DaemonContext): Handler<'doctor'> => async () =>
  runDoctor({ openclaw: false }, { fleet: ctx.fleet, readManifest: ctx.readManifest, daemon: ctx.daemonView });

/** One agent, with `openclaw doctor` run as it unless ?openclaw=0. */
export const agentDoctorHandler = (ctx: DaemonContext): Handler<'agentDoctor'> => async ({ params, query }) =>
  runDoctor({ address: toAddress(params.fleet!, params.agent!), openclaw: query.get('openclaw') !== '0' }, { fleet: ctx.fleet, readManifest: ctx.readManifest, daemon: ctx.daemonView });
