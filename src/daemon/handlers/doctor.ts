// GET /v1/doctor and GET /v1/agents/:fleet/:agent/doctor[?openclaw=0]: fleetctl doctor.
//
// The doctor (src/doctor/: nine modules, its checks of hosts, files, ports, lock files and
// orphans) is loaded by the first doctor request, not at fleetd's start: a fleetd that is
// never asked never holds it (~0.5 MB of heap for its code).
import { toAddress } from '../../manifest/ids.js';
import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';
import { firstUse } from '../../util/first-use.js';

/** runDoctor, imported on first use (an import is cached by Node: later calls cost nothing). */
async function runDoctor(...args: Parameters<typeof import('../../doctor/run-doctor.js').runDoctor>): ReturnType<typeof import('../../doctor/run-doctor.js').runDoctor> {
  const { runDoctor: run } = await firstUse('the doctor', () => import('../../doctor/run-doctor.js'));
  return run(...args);
}

/** The whole installation. */
export const doctorHandler = (ctx: DaemonContext): Handler<'doctor'> => async () =>
  runDoctor({ openclaw: false }, { fleet: ctx.fleet, readManifest: ctx.readManifest, daemon: ctx.daemonView });

/** One agent, with `openclaw doctor` run as it unless ?openclaw=0. */
export const agentDoctorHandler = (ctx: DaemonContext): Handler<'agentDoctor'> => async ({ params, query }) =>
  runDoctor({ address: toAddress(params.fleet!, params.agent!), openclaw: query.get('openclaw') !== '0' }, { fleet: ctx.fleet, readManifest: ctx.readManifest, daemon: ctx.daemonView });
