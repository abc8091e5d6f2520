// Signals handled from the first instant (issue 9 item 7a). fleetd's entry point installs
// these handlers before it imports anything heavy (~0.3 s of module loading), so a SIGTERM
// at any moment of start-up is caught: it is remembered until the daemon (or the command
// that runs) takes the signals over with route(), which replays what arrived meanwhile.
// No imports on purpose: this module must load in no time.

/** Signals that end fleetd: SIGTERM/SIGINT stop every gateway; SIGUSR2 restarts fleetd and leaves them running (live restore). */
export type StopSignal = 'SIGTERM' | 'SIGINT' | 'SIGUSR2';

/** Where signals go once a command has taken them over. */
export interface SignalRoutes {
  /** SIGTERM or SIGINT: stop everything and exit. */
  stop(signal: StopSignal): void;
  /** SIGHUP: re-read the manifest. */
  reload(): void;
}

/** The signals caught since start-up. */
export interface EarlySignals {
  /** The first stop signal received while nothing had taken the signals over. */
  pendingStop(): StopSignal | undefined;
  /** Sends every later signal to `routes`, and replays the ones already received (a stop wins over a reload). */
  route(routes: SignalRoutes): void;
  /** Removes the handlers (tests, and a process that is about to exit). */
  dispose(): void;
}

/** The process surface used (injectable for tests). */
export interface SignalSource {
  on(event: string, listener: () => void): unknown;
  off(event: string, listener: () => void): unknown;
}

/** Installs SIGTERM, SIGINT, SIGHUP and SIGUSR2 handlers that remember what arrives until route() is called. */
export function catchSignalsEarly(source: SignalSource = process): EarlySignals {
  let stop: StopSignal | undefined;
  let reload = false;
  let routes: SignalRoutes | undefined;
  const onTerm = () => deliverStop('SIGTERM');
  const onInt = () => deliverStop('SIGINT');
  const onUsr2 = () => deliverStop('SIGUSR2');
  const onHup = () => {
    if (routes) routes.reload();
    else reload = true;
  };
  function deliverStop(signal: StopSignal): void {
    if (routes) routes.stop(signal);
    else stop ??= signal;
  }
  source.on('SIGTERM', onTerm);
  source.on('SIGINT', onInt);
  source.on('SIGHUP', onHup);
  source.on('SIGUSR2', onUsr2);
  return {
    pendingStop: () => stop,
    route(next) {
      routes = next;
      const pendingStop = stop;
      const pendingReload = reload;
      stop = undefined;
      reload = false;
      if (pendingStop) next.stop(pendingStop);
      else if (pendingReload) next.reload();
    },
    dispose() {
      source.off('SIGTERM', onTerm);
      source.off('SIGINT', onInt);
      source.off('SIGHUP', onHup);
      source.off('SIGUSR2', onUsr2);
    },
  };
}
