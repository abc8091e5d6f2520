// Under systemd, `systemctl restart fleetd` and `systemctl stop fleetd` both send SIGTERM;
// only the first must leave the gateways running (live restore). The job systemd is running
// for the unit tells them apart: `systemctl list-jobs --no-legend --plain <unit>` lists it
// with its type (restart, try-restart, reload-or-restart ... or stop). The unit name comes
// from fleetd's own cgroup (/proc/self/cgroup names `<unit>.service`). Without systemd
// (no INVOCATION_ID) there is no job and SIGTERM means stop.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';

/** Job types after which the unit comes back: its gateways are left for the next fleetd. */
const RESTART_JOBS = new Set(['restart', 'try-restart', 'reload-or-restart', 'try-reload-or-restart', 'reload-or-try-restart']);

/** The systemd unit fleetd runs in (`fleetd.service`), from /proc/self/cgroup; undefined outside a service unit. */
export function unitOfCgroup(text: string): string | undefined {
  for (const line of text.split('\n')) {
    const path = line.split(':').slice(2).join(':');
    const unit = path.split('/').find((part) => /^[^/]+\.service$/.test(part));
    if (unit) return unit;
  }
  return undefined;
}

/** The type of the job systemd runs for `unit` now, from `systemctl list-jobs` output; undefined when there is none. */
export function jobTypeOf(listJobs: string, unit: string): string | undefined {
  for (const line of listJobs.split('\n')) {
    const [, name, type] = line.trim().split(/\s+/);
    if (name === unit && type) return type;
  }
  return undefined;
}

/** Dependencies (real defaults). */
export interface SystemdJobDeps {
  env: NodeJS.ProcessEnv;
  readCgroup: () => Promise<string>;
  listJobs: (unit: string) => Promise<string>;
}

const DEFAULTS: SystemdJobDeps = {
  env: process.env,
  readCgroup: () => readFile('/proc/self/cgroup', 'utf8'),
  listJobs: (unit) =>
    new Promise((resolve, reject) =>
      execFile('systemctl', ['list-jobs', '--no-legend', '--plain', unit], { timeout: 5000 }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
    ),
};

/** True when systemd is restarting fleetd's unit right now (so a SIGTERM means: leave the gateways for the next fleetd). Never throws. */
export async function systemdIsRestarting(deps: Partial<SystemdJobDeps> = {}): Promise<boolean> {
  const d = { ...DEFAULTS, ...deps };
  if (!d.env['INVOCATION_ID']) return false;
  try {
    const unit = unitOfCgroup(await d.readCgroup());
    if (!unit) return false;
    const type = jobTypeOf(await d.listJobs(unit), unit);
    return type !== undefined && RESTART_JOBS.has(type);
  } catch {
    return false;
  }
}

/** True under systemd (it starts fleetd again after an exit with RESTART_EXIT_CODE). */
export function underSystemd(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env['INVOCATION_ID']);
}

/** Exit code of a fleetd that left its gateways for the next one; the unit restarts on it (RestartForceExitStatus=). */
export const RESTART_EXIT_CODE = 75;
