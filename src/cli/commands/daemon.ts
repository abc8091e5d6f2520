// `fleetctl daemon restart` (leave every gateway running; the next fleetd adopts them: the
// way to upgrade fleetd without gateway downtime) and `fleetctl daemon stop` (stop every
// gateway and fleetd, like SIGTERM). fleetctl waits until the fleetd it asked has exited.
import type { Command } from 'commander';
import { callRaw } from '../../protocol/client.js';
import { FleetError } from '../../errors.js';
import { waitFor } from '../../util/wait-for.js';
import { globalsOf, type CliRun } from '../context.js';
import { note, printJson, printLines } from '../output.js';
import { groupCommand, intOption } from './group.js';
import { MAX_TIMEOUT_MS } from './stop.js';

/** True while `pid` exists (signal 0). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Registers `daemon restart` and `daemon stop`. */
export function registerDaemon(program: Command, run: CliRun): void {
  const daemon = groupCommand(program, 'daemon', 'restart or stop fleetd itself');
  for (const how of ['restart', 'stop'] as const) {
    daemon
      .command(how)
      .description(
        how === 'restart'
          ? 'restart fleetd, leaving every gateway running: the next fleetd adopts them (same pids, no restart). Under systemd: `systemctl restart fleetd` does the same'
          : 'stop every gateway, then fleetd (like SIGTERM or `systemctl stop fleetd`)',
      )
      .option('--timeout <MS>', 'how long to wait for fleetd to exit, in milliseconds', intOption(0, MAX_TIMEOUT_MS), 120_000)
      .action(async (opts: { timeout: number }, cmd: Command) => {
        const { socket, json } = globalsOf(cmd, run.deps);
        const { data, raw } = await callRaw(socket, how === 'restart' ? 'daemonRestart' : 'daemonStop');
        if (!json) note(run.deps.io, `fleetd pid ${data.pid}: ${data.next} (${data.gateways} gateway(s) running)`);
        await waitFor(() => !alive(data.pid), { timeoutMs: opts.timeout, intervalMs: 100, what: `fleetd pid ${data.pid} to exit` }).catch(() => {
          throw new FleetError('TIMEOUT', `fleetd pid ${data.pid} is still running after ${opts.timeout} ms; see its log (journalctl -u fleetd)`);
        });
        if (json) printJson(run.deps.io, raw);
        else printLines(run.deps.io, [how === 'restart' ? `fleetd pid ${data.pid} left; its gateways run on` : `fleetd pid ${data.pid} stopped`]);
      });
  }
}
