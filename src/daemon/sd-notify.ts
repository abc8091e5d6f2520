// systemd readiness for `Type=notify` (sd_notify(3)): READY=1 once the fleet's start-up is
// planned, STATUS= lines, RELOADING=1/READY=1 around a reload, STOPPING=1, and WATCHDOG=1
// pings. Node cannot send Unix datagrams, so each message is sent by `systemd-notify`
// (systemd >= 246 waits until the manager has read it, which makes a message from this
// short-lived child attributable to the unit; the unit needs NotifyAccess=all for a child).
// No --pid: fleetd already is the main pid, and claiming another pid needs privileges.
// Without NOTIFY_SOCKET (not under systemd, or Type=simple) every call is a no-op.
//
// Keeping the watchdog honest: a ping is sent only after a self-check passed (by default
// fleetd asks its own control socket GET /v1/health: the event loop, the HTTP server and
// the socket all work). A fleetd that cannot answer its own socket stops pinging and
// systemd restarts it after WatchdogSec; the ping interval is half of WATCHDOG_USEC.
import { firstUse } from '../util/first-use.js';

/** Sends one notification (argv after `systemd-notify`) with the given environment. */
export type NotifySender = (args: string[], env: Record<string, string>) => Promise<void>;

/** The real sender: runs `systemd-notify` (found on PATH). */
export const systemdNotify: NotifySender = async (args, env) => {
  const { execa } = await firstUse('notifying systemd', () => import('execa')); // loaded on first use: only under systemd
  await execa('systemd-notify', args, { env, extendEnv: false, stdin: 'ignore', timeout: 10_000 });
};

/** A logger shape. */
interface Log {
  warn(obj: object, msg: string): void;
}

/** Options of createSdNotifier. */
export interface SdNotifierOptions {
  env?: NodeJS.ProcessEnv;
  pid?: number;
  send?: NotifySender;
  logger?: Log;
  /** The watchdog's self-check (true: healthy). Required for pings. */
  check?: () => Promise<boolean>;
  setInterval?: (fn: () => void, ms: number) => { unref?: () => void } | unknown;
  clearInterval?: (handle: unknown) => void;
}

/** Status lines get cut here (systemd shows one line). */
const MAX_STATUS = 400;

/** Creates the notifier; every method is a no-op without NOTIFY_SOCKET. */
export function createSdNotifier(o: SdNotifierOptions = {}) {
  const env = o.env ?? process.env;
  const socket = env.NOTIFY_SOCKET;
  const send = o.send ?? systemdNotify;
  const pid = o.pid ?? process.pid;
  const childEnv: Record<string, string> = socket ? { NOTIFY_SOCKET: socket, PATH: env.PATH || '/usr/bin:/bin' } : {};
  // WATCHDOG_PID, when set, names the process the watchdog is for
  const watchdogUsec = Number(env.WATCHDOG_USEC);
  const watchdogFor = env.WATCHDOG_PID === undefined || Number(env.WATCHDOG_PID) === pid;
  const watchdogMs = socket && watchdogFor && Number.isFinite(watchdogUsec) && watchdogUsec > 0 ? Math.max(500, Math.floor(watchdogUsec / 2000)) : null;
  let chain: Promise<void> = Promise.resolve();
  let broken = false;
  let timer: unknown;
  let lastStatus = '';

  /** Queues one message; messages go out one at a time, in order; a failure is logged once. */
  function notify(...fields: string[]): Promise<void> {
    if (!socket || broken) return Promise.resolve();
    const line = fields.map((f) => f.replace(/[\r\n]+/g, ' '));
    chain = chain.then(() =>
      send(line, childEnv).catch((err: Error & { code?: string }) => {
        if (err.code === 'ENOENT') broken = true; // no systemd-notify: stop trying
        o.logger?.warn({ err: err.message, fields: line }, broken ? 'systemd-notify is not installed: systemd readiness disabled' : 'systemd-notify failed');
      }),
    );
    return chain;
  }

  return {
    /** True under systemd with a notify socket. */
    enabled: Boolean(socket),
    /** Ping interval in ms, or null without a watchdog. */
    watchdogIntervalMs: watchdogMs,
    /** READY=1 (start-up planned, or a reload done), with a status line. */
    ready(status: string): Promise<void> {
      lastStatus = status;
      return notify('READY=1', `STATUS=${status.slice(0, MAX_STATUS)}`);
    },
    /** A new STATUS= line (sent only when it changed). */
    status(status: string): Promise<void> {
      if (status === lastStatus) return Promise.resolve();
      lastStatus = status;
      return notify(`STATUS=${status.slice(0, MAX_STATUS)}`);
    },
    /** RELOADING=1 with CLOCK_MONOTONIC in µs (as systemd asks); follow with ready(). */
    reloading(): Promise<void> {
      return notify('RELOADING=1', `MONOTONIC_USEC=${process.hrtime.bigint() / 1000n}`, 'STATUS=reloading the manifest');
    },
    /** STOPPING=1. */
    stopping(status = 'stopping every gateway'): Promise<void> {
      lastStatus = status;
      return notify('STOPPING=1', `STATUS=${status}`);
    },
    /** Starts pinging WATCHDOG=1 every half WATCHDOG_USEC while `check` passes. */
    startWatchdog(): void {
      if (watchdogMs === null || timer !== undefined || !o.check) return;
      const check = o.check;
      let busy = false;
      const tick = () => {
        if (busy) return; // a check still running counts as a missed ping
        busy = true;
        check()
          .then((ok) => (ok ? notify('WATCHDOG=1') : o.logger?.warn({}, 'watchdog self-check failed: not pinging systemd')))
          .catch((err: Error) => o.logger?.warn({ err: err.message }, 'watchdog self-check failed: not pinging systemd'))
          .finally(() => (busy = false));
      };
      const handle = (o.setInterval ?? setInterval)(tick, watchdogMs) as { unref?: () => void };
      handle.unref?.();
      timer = handle;
      tick();
    },
    /** Stops the watchdog pings. */
    close(): void {
      if (timer !== undefined) (o.clearInterval ?? ((h) => clearInterval(h as NodeJS.Timeout)))(timer);
      timer = undefined;
    },
    /** Resolves once every queued message went out. */
    flush(): Promise<void> {
      return chain;
    },
  };
}

/** The notifier object. */
export type SdNotifier = ReturnType<typeof createSdNotifier>;
