// A shim outlives fleetd and must not die of a signal meant for someone else: fleetd
// stops a gateway by signalling the gateway (or its cgroup), never through its shim, and a
// shim ends by itself once its gateway has ended. Only SIGKILL ends a shim early.

/** Signals a shim ignores: termination requests, terminal hang-up, broken pipes, user signals. */
export const IGNORED_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGPIPE', 'SIGUSR1', 'SIGUSR2'] as const;

// SIGUSR1 would open Node's inspector on 127.0.0.1:9229 (a listener stops that); SIGUSR2,
// SIGQUIT and SIGHUP would end the process by default.
/** Installs do-nothing handlers for IGNORED_SIGNALS (call first thing, before heavy imports). */
export function ignoreSignals(target: NodeJS.Process = process): void {
  for (const signal of IGNORED_SIGNALS) target.on(signal, () => undefined);
}
