// The fleet's launch bookkeeping with the runner and the runtime installer faked (they are
// passed in): a launch that waits (for a runtime, for a start slot) while the agent is
// stopped, removed, disabled or fleetd shuts down must never spawn. Real registry files.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { parseManifest } from '../manifest/load.js';
import type { Runtime } from '../runtime/types.js';
import type { LaunchSpec, RunnerStatus } from '../supervise/types.js';
import { withTempDir } from '../util/temp-dir.js';
import { waitFor } from '../util/wait-for.js';
import { createFleet, type FleetRunner } from './fleet.js';
import { createLogger } from './logger.js';
import { openRegistry } from './registry.js';
import { Writable } from 'node:stream';

/** A promise with its resolve/reject, to hold the runtime install open. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** Lets pending promise chains (registry writes included) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
}

function setup(dir: string, agents: Record<string, unknown>) {
  const text = JSON.stringify({ version: 1, stateDir: './state', gateway: { openclaw: '2026.9.6' }, fleets: { acme: { agents } } });
  const manifest = parseManifest(text, join(dir, 'fleets.json5'));
  const runtime = deferred<Runtime>();
  const spawned: string[] = [];
  const quiet = new Writable({ write: (_c, _e, cb) => cb() });
  const fleet = createFleet(manifest, {
    logger: createLogger({ destination: quiet, pretty: false }),
    registry: openRegistry(manifest.stateDir),
    ensureRuntime: () => runtime.promise,
    treeRss: () => new Map(),
    now: () => Date.now(),
    parentEnv: { PATH: '/usr/bin:/bin' },
    isPortFree: async () => true,
    setTimer: () => undefined,
    createRunner: (spec: LaunchSpec): FleetRunner => {
      let status: RunnerStatus = { address: spec.address, state: 'stopped', reason: '', since: 0, pid: null, port: spec.port, runningSince: null, restarts: 0, lastExit: null, health: { live: null, ready: null }, nextStartAt: null };
      return {
        start: async () => {
          spawned.push(spec.address);
          status = { ...status, state: 'running', pid: 4242 };
        },
        restart: async () => {
          spawned.push(spec.address);
          status = { ...status, state: 'running', pid: 4243 };
        },
        stop: async () => void (status = { ...status, state: 'stopped', pid: null }),
        updateSpec: () => undefined,
        status: () => status,
        waitForState: async () => status,
        on: () => () => undefined,
      };
    },
  });
  const fakeRuntime: Runtime = { version: '2026.9.6', key: '2026.9.6', dir: '/rt', node: '/rt/node', entry: '/rt/openclaw.mjs', nodeVersion: '24.21.0' };
  return { manifest, fleet, runtime, spawned, fakeRuntime };
}

describe('launches waiting for a runtime', () => {
  test('an agent stopped meanwhile is not spawned when the runtime arrives', () =>
    withTempDir(async (dir) => {
      const { manifest, fleet, runtime, spawned, fakeRuntime } = setup(dir, { a: {}, b: {} });
      await fleet.load();
      await fleet.reconcile(manifest, false);
      await settle();
      assert.equal(fleet.views().find((v) => v.address === 'acme/a')?.reason, 'waiting for OpenClaw runtime 2026.9.6');
      await fleet.persist((r) => void (r.agents['acme/a']!.desired = 'stopped')); // what `fleetctl stop agent` records
      runtime.resolve(fakeRuntime);
      await waitFor(() => spawned.length > 0, { timeoutMs: 5000, what: 'acme/b to spawn' });
      await fleet.shutdown(); // waits for every launch, acme/a's included
      assert.deepEqual(spawned, ['acme/b']);
    }));

  test('an agent removed from the manifest meanwhile is not spawned, and its block is free', () =>
    withTempDir(async (dir) => {
      const { manifest, fleet, runtime, spawned, fakeRuntime } = setup(dir, { a: {}, b: {} });
      await fleet.load();
      await fleet.reconcile(manifest, false);
      await settle();
      const without = { ...manifest, fleets: { acme: { ...manifest.fleets.acme!, agents: { b: manifest.fleets.acme!.agents.b! } } } };
      const result = await fleet.reconcile(without, false);
      assert.deepEqual(result.actions.map((a) => `${a.kind} ${a.address}`), ['stop acme/a', 'free acme/a'], 'its launch counts as alive');
      runtime.resolve(fakeRuntime);
      await waitFor(() => spawned.length > 0, { timeoutMs: 5000, what: 'acme/b to spawn' });
      await fleet.shutdown();
      assert.deepEqual(spawned, ['acme/b']);
      assert.equal(fleet.registry.agents['acme/a'], undefined);
    }));

  test('nothing is spawned once shutdown has begun', () =>
    withTempDir(async (dir) => {
      const { manifest, fleet, runtime, spawned, fakeRuntime } = setup(dir, { a: {} });
      await fleet.load();
      await fleet.reconcile(manifest, false);
      await settle();
      const stopping = fleet.shutdown();
      runtime.resolve(fakeRuntime);
      await stopping;
      await settle();
      assert.deepEqual(spawned, []);
    }));

  test('a reload while an agent waits plans no second start for it', () =>
    withTempDir(async (dir) => {
      const { manifest, fleet, runtime, spawned, fakeRuntime } = setup(dir, { a: {} });
      await fleet.load();
      await fleet.reconcile(manifest, false);
      await settle();
      const again = await fleet.reconcile(manifest, true);
      assert.deepEqual(again.actions, [], 'the waiting launch counts as starting');
      runtime.resolve(fakeRuntime);
      await waitFor(() => spawned.length > 0, { timeoutMs: 5000, what: 'acme/a to spawn' });
      await fleet.shutdown();
      assert.deepEqual(spawned, ['acme/a'], 'once');
    }));
});
