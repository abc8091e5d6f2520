// The typed handler map: a route of the protocol without a handler here does not compile.
import type { HandlerMap } from '../http-server.js';
import type { DaemonContext } from '../context.js';
import { addAgentHandler } from './add-agent.js';
import { healthHandler } from './health.js';
import { daemonRestartHandler, daemonStopHandler } from './daemon-leave.js';
import { logsHandler } from './logs.js';
import { reloadHandler } from './reload.js';
import { federationHandler } from './federation.js';
import { hooksTokenHandler } from './hooks-token.js';
import { removeAgentHandler } from './remove-agent.js';
import { restartAgentHandler } from './restart-agent.js';
import { restartFleetHandler } from './restart-fleet.js';
import { installRuntimeHandler } from './install-runtime.js';
import { pruneRuntimesHandler } from './prune-runtimes.js';
import { removeRuntimeHandler } from './remove-runtime.js';
import { runtimesHandler } from './runtimes.js';
import { startAgentHandler } from './start-agent.js';
import { statusHandler } from './status.js';
import { stopAgentHandler } from './stop-agent.js';
import { tokenHandler } from './token.js';
import { configDiffHandler, configShowHandler } from './agent-config.js';
import { backupHandler } from './backup.js';
import { execSpecHandler } from './exec-spec.js';
import { openclawLogsHandler } from './openclaw-logs.js';
import { restoreHandler } from './restore.js';
import { eventsHandler } from './events.js';
import { upgradeHandler } from './upgrade.js';
import { upgradeStatusHandler } from './upgrade-status.js';
import { agentDoctorHandler, doctorHandler } from './doctor.js';
import { startAllHandler, startFleetHandler, stopAllHandler, stopFleetHandler } from './bulk.js';

/** Builds every route's handler around one daemon context. */
export function createHandlers(ctx: DaemonContext): HandlerMap {
  return {
    health: healthHandler(ctx),
    daemonRestart: daemonRestartHandler(ctx),
    daemonStop: daemonStopHandler(ctx),
    status: statusHandler(ctx),
    addAgent: addAgentHandler(ctx),
    removeAgent: removeAgentHandler(ctx),
    startAgent: startAgentHandler(ctx),
    stopAgent: stopAgentHandler(ctx),
    restartAgent: restartAgentHandler(ctx),
    restartFleet: restartFleetHandler(ctx),
    token: tokenHandler(ctx),
    logs: logsHandler(ctx),
    reload: reloadHandler(ctx),
    hooksToken: hooksTokenHandler(ctx),
    federation: federationHandler(ctx),
    runtimes: runtimesHandler(ctx),
    installRuntime: installRuntimeHandler(ctx),
    removeRuntime: removeRuntimeHandler(ctx),
    pruneRuntimes: pruneRuntimesHandler(ctx),
    execSpec: execSpecHandler(ctx),
    configShow: configShowHandler(ctx),
    configDiff: configDiffHandler(ctx),
    openclawLogs: openclawLogsHandler(ctx),
    backup: backupHandler(ctx),
    restore: restoreHandler(ctx),
    events: eventsHandler(ctx),
    upgrade: upgradeHandler(ctx),
    upgradeStatus: upgradeStatusHandler(ctx),
    doctor: doctorHandler(ctx),
    agentDoctor: agentDoctorHandler(ctx),
    stopFleet: stopFleetHandler(ctx),
    startFleet: startFleetHandler(ctx),
    stopAll: stopAllHandler(ctx),
    startAll: startAllHandler(ctx),
  };
}
