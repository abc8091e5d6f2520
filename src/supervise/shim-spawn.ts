// Launching a gateway through its per-agent shim (src/shim/, conmon's model): the shim is
// the gateway's parent and outlives fleetd, writes the redacted, rotated log itself and
// records the exit, so a restart of fleetd neither loses output nor kills the gateway. This
// file turns a LaunchSpec into the shim's spec and a shim handle into the GatewayProcess the
// runner knows, for a fresh launch and for the adoption of a gateway a previous fleetd left.
import { dirname } from 'node:path';
import { launchShim, type ShimClientDeps, type ShimHandle } from './shim-client.js';
import type { GatewayExit, GatewayProcess, SpawnFn } from './spawn-gateway.js';
import type { LaunchSpec } from './types.js';
import { isSameProcess } from './proc.js';

/** The run dir of a launch: fleetd's own folder for the agent (where gateway.log lives). */
export function runDirOf(spec: Pick<LaunchSpec, 'logFile'>): string {
  return dirname(spec.logFile);
}

/** A SpawnFn that launches each gateway under its own shim. */
export function createShimSpawn(deps: Partial<ShimClientDeps> = {}): SpawnFn {
  return async (spec, io) => {
    const handle = await launchShim(
      {
        protocol: 1,
        name: spec.address,
        argv: spec.argv,
        ...(spec.cgroupProcs?.length ? { cgroupProcs: spec.cgroupProcs } : {}),
        cwd: spec.cwd,
        env: spec.env,
        runDir: runDirOf(spec),
        log: { file: spec.logFile, maxBytes: spec.logs.maxBytes, maxFiles: spec.logs.maxFiles },
        secrets: [spec.token, ...(spec.secrets ?? [])],
        specHash: spec.launchHash ?? 'unhashed',
      },
      deps,
      io.signal,
    );
    return processOfShim(handle);
  };
}

/** The GatewayProcess view of a shim handle: exit from the shim (exact code and signal), output by subscription, notes into its log, readiness watched by the shim when it can. */
export function processOfShim(handle: ShimHandle): GatewayProcess {
  const exited: Promise<GatewayExit> = handle.exited.then((outcome) => {
    switch (outcome.kind) {
      case 'exited':
        return { code: outcome.code, signal: outcome.signal, at: outcome.at, ...(outcome.error ? { error: outcome.error } : {}) };
      case 'lost':
        return { code: null, signal: null, at: outcome.at, lost: `its output holder (shim pid ${handle.shim.pid}) is gone: ${outcome.reason}` };
      case 'replaced':
        return { code: null, signal: null, at: outcome.at, lost: 'another client took its shim over' };
      case 'detached':
        return { code: null, signal: null, detached: true };
    }
  });
  // one listener for the current watch's miss at most
  let offMiss: (() => void) | null = null;
  const stopListening = () => {
    offMiss?.();
    offMiss = null;
  };
  const readiness: GatewayProcess['readiness'] = {
    async watch(options, onMiss) {
      stopListening();
      const off = handle.on('watch-miss', (miss) => {
        if (offMiss !== off) return;
        stopListening();
        onMiss(miss);
      });
      offMiss = off;
      try {
        await handle.watch(options);
      } catch (err) {
        if (offMiss === off) stopListening();
        throw err;
      }
    },
    async unwatch(timeoutMs) {
      stopListening();
      await handle.unwatch(timeoutMs);
    },
    async ping(timeoutMs) {
      await handle.status(timeoutMs);
    },
  };
  return {
    pid: handle.gateway?.pid ?? null,
    startTime: handle.gateway?.startTime ?? null,
    exitSeen: exited.then(() => undefined),
    exited,
    log: { note: (text) => void handle.note(text).catch(() => undefined), tail: handle.tail, subscribe: (listener) => handle.on('output', listener) },
    ...(handle.canWatch ? { readiness } : {}),
    detach: () => handle.detach(),
    killHolder() {
      if (!isSameProcess(handle.shim)) return null;
      try {
        process.kill(handle.shim.pid, 'SIGKILL');
      } catch {
        return null;
      }
      return `its shim pid ${handle.shim.pid} did not answer: fleetd SIGKILLed it`;
    },
    close: () => handle.close(),
  };
}
