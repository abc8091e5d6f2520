// UpgradePort on the Fleet (daemon/fleet.ts), through its command API only: addresses,
// describe, view, registry, manifest, exclusive/reconcileInside and stopForRollout.
//   stop:      the agent's gateway is stopped (the agent stays wanted running);
//   start:     the controller's effective manifest, reconciled: the agent's launch now
//              names the runtime its rollout phase says, so the reconcile starts it there;
//   waitReady: the runner's state (a crash or exit 78 fails at once) plus our own GETs of
//              /startupz ("started") and /readyz (200) on 127.0.0.1:<port>.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { FleetError } from '../errors.js';
import type { Manifest } from '../manifest/schema.js';
import { parseAddress } from '../manifest/ids.js';
import { isAlive, isUp } from '../plan/agent-states.js';
import type { CurrentLaunch } from '../plan/launch-overlay.js';
import type { RegistryFile } from '../plan/types.js';
import { agentPaths } from '../provision/home.js';
import type { CapabilityProbe } from '../runtime/capabilities.js';
import type { ProgressEvent, Runtime } from '../runtime/types.js';
import { httpGet, type HttpGet } from '../supervise/probe.js';
import type { Fleet } from '../daemon/fleet.js';
import type { UpgradePort } from './controller.js';
import type { GateResult, TargetRuntime } from './executor.js';
import { preflightState } from './preflight.js';
import { listSnapshots, pruneSnapshots, readSnapshot, restoreSnapshot, SNAPSHOTS_KEPT, takeSnapshot } from './snapshot.js';

/** What the port is built from. */
export interface FleetPortOptions {
  fleet: Fleet;
  installRuntime: (key: string, onProgress?: (event: ProgressEvent) => void) => Promise<Runtime>;
  capabilities: CapabilityProbe;
  get?: HttpGet;
  /** Pause between gate polls (default 500 ms). */
  pollMs?: number;
}


/** Builds the port. */
export function createFleetPort(o: FleetPortOptions): UpgradePort {
  const { fleet } = o;
  const get = o.get ?? httpGet;
  const pollMs = o.pollMs ?? 500;
  const pathsOf = (address: string) => {
    const id = parseAddress(address);
    if (!id) throw new FleetError('BAD_REQUEST', `${address} is not an agent address`);
    return agentPaths(fleet.manifest.stateDir, id.fleet, id.agent);
  };
  const probe = async (address: string, path: string): Promise<{ status: number; body: string } | undefined> => {
    const port = fleet.view(address).port;
    return get(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
  };

  return {
    currentLaunches() {
      const out = new Map<string, CurrentLaunch>();
      for (const address of fleet.addresses()) {
        const { desired, entry } = fleet.describe(address);
        const wanted = desired.enabled && entry?.desired === 'running';
        out.set(address, { launch: desired.launch, alive: wanted && isAlive(fleet.view(address).state) });
      }
      return out;
    },
    registry: () => fleet.registry() as RegistryFile,
    appliedManifest: () => fleet.manifest,
    async apply(manifest: Manifest) {
      await fleet.reconcileInside(manifest);
    },
    serial: (fn, address) => fleet.exclusive(fn, address),
    async installRuntime(key, onProgress) {
      const r = await o.installRuntime(key, (e) => onProgress(e.message));
      return { key: r.key, node: r.node, entry: r.entry, dir: r.dir };
    },
    async preflight(address, target: TargetRuntime, fromSnapshot) {
      const caps = await o.capabilities.get(target);
      const paths = pathsOf(address);
      // the copy of its database is as private as the database: made under fleetd's own 0700 folder
      await mkdir(paths.supervisorDir, { recursive: true, mode: 0o700 });
      const openclawDir = fromSnapshot ? join(paths.supervisorDir, 'snapshots', (await readSnapshot(join(paths.supervisorDir, 'snapshots'), fromSnapshot)).id, 'state') : paths.openclawDir;
      return preflightState({ target, offered: caps.databasePreflight.offered, openclawDir, workDir: paths.supervisorDir });
    },
    async findSnapshot(address, runtimeKey) {
      const dir = join(pathsOf(address).supervisorDir, 'snapshots');
      for (const id of (await listSnapshots(dir)).reverse()) {
        const info = await readSnapshot(dir, id).catch(() => undefined);
        if (info?.runtime === runtimeKey && info.hadState) return id;
      }
      return null;
    },
    async isReady(address) {
      return (await probe(address, '/readyz'))?.status === 200;
    },
    async stop(address) {
      await fleet.stopForRollout(address, 'stopped for a runtime upgrade (rollout)');
    },
    async snapshot(address, key) {
      const paths = pathsOf(address);
      const runtime = await o.installRuntime(key);
      const info = await takeSnapshot({ address, openclawDir: paths.openclawDir, snapshotsDir: join(paths.supervisorDir, 'snapshots'), node: runtime.node, runtime: key });
      return info.id;
    },
    async restore(address, id) {
      const paths = pathsOf(address);
      await restoreSnapshot({ openclawDir: paths.openclawDir, snapshotsDir: join(paths.supervisorDir, 'snapshots'), id });
    },
    async pruneSnapshots(address, keep) {
      await pruneSnapshots(join(pathsOf(address).supervisorDir, 'snapshots'), SNAPSHOTS_KEPT, keep ? [keep] : []);
    },
    async waitReady(address, w): Promise<GateResult> {
      let last = 'no answer yet';
      const said = (state: string, reason: string) => (reason.startsWith(state) ? reason : `${state}: ${reason}`);
      for (;;) {
        const view = fleet.view(address);
        // a launch in flight is `starting` from its first step (runtime, provisioning, start slot)
        if (view.state === 'failed' || view.state === 'backoff') return { ok: false, cause: said(view.state, view.reason) };
        if (view.state === 'stopped') return { ok: false, cause: said('stopped', view.reason) };
        if (isUp(view.state)) {
          const startup = await probe(address, '/startupz');
          const started = startup?.status === 200 && /"status"\s*:\s*"started"/.test(startup.body);
          const ready = w.requireReady ? await probe(address, '/readyz') : undefined;
          if (started && (!w.requireReady || ready?.status === 200)) return { ok: true, detail: w.requireReady ? '/startupz started, /readyz 200' : '/startupz started' };
          last = !started ? `/startupz ${startup ? `${startup.status} ${startup.body.slice(0, 120)}` : 'no answer'}` : `/readyz ${ready ? `${ready.status} ${ready.body.slice(0, 160)}` : 'no answer'}`;
        } else {
          last = `${view.state}: ${view.reason}`;
        }
        if (Date.now() >= w.deadline) return { ok: false, cause: `not ready within the deadline (last: ${last})` };
        await delay(pollMs);
      }
    },
  };
}

