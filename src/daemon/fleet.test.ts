// The fleet with real agents, real runners and a real registry on temp files; only what the
// runner touches outside (spawn, probes, stopping trees) and the runtime installer are fake.
// A launch that waits (for a runtime, for a start slot) while its agent is stopped, removed
// or fleetd shuts down must never spawn; operations on one agent never wait for another;
// the planner and status read the same single state.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parseManifest } from '../manifest/load.js';
import type { Runtime } from '../runtime/types.js';
import { createRunner } from '../supervise/runner.js';
import type { GatewayExit, GatewayProcess } from '../supervise/spawn-gateway.js';
import { withTempDir } from '../util/temp-dir.js';
import { waitFor } from '../util/wait-for.js';
import { createFleet } from './fleet.js';
import { createLogger } from './logger.js';
import { openRegistry } from './registry.js';
import { createRegistryStore } from './registry-store.js';

/** A promise with its resolve/reject, to hold a runtime install open. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** Lets pending promise chains run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
}

const fakeRuntime: Runtime = { version: '2026.9.6', key: '2026.9.6', dir: '/rt', node: '/rt/node', entry: '/rt/openclaw.mjs', nodeVersion: '24.21.0' };

interface Options {
  startConcurrency?: number;
  /** Addresses whose probes stay unanswered (held in `starting`) until released. */
  holdBoot?: Set<string>;
  /** gateway.reloadTimeoutMs of the manifest. */
  reloadTimeoutMs?: number;
  /** Tree readings that name their pid, refreshed every 10 ms while asked (else null readings, default timings). */
  readings?: boolean;
  /** Collects fleetd's log lines (JSON). */
  lines?: string[];
  /** With readings: least time between two refreshes (default 10 ms). */
  refreshMs?: number;
}

function setup(dir: string, agents: Record<string, unknown>, options: Options = {}) {
  const text = JSON.stringify({ version: 1, stateDir: './state', startConcurrency: options.startConcurrency ?? 2, gateway: { openclaw: '2026.9.6', ...(options.reloadTimeoutMs ? { reloadTimeoutMs: options.reloadTimeoutMs } : {}) }, fleets: { acme: { agents } } });
  const manifest = parseManifest(text, join(dir, 'fleets.json5'));
  let runtime = deferred<Runtime>();
  const spawned: string[] = [];
  const live = new Map<number, (exit: GatewayExit) => void>();
  let nextPid = 5000;
  const hold = options.holdBoot ?? new Set<string>();
  const quiet = new Writable({
    write: (chunk: Buffer, _e, cb) => {
      options.lines?.push(chunk.toString());
      cb();
    },
  });
  const logger = createLogger({ destination: quiet, pretty: false });
  const store = createRegistryStore(openRegistry(manifest.stateDir));
  const reads = { treeUsage: 0 };
  /** runner.status() calls per agent. */
  const statusCalls = new Map<string, number>();
  const fleet = createFleet(manifest, {
    logger,
    store,
    installRuntime: () => runtime.promise,
    // a tree reading tells its pid: rssBytes = pid * 1000 (options.readings: figures at all)
    treeReader: async () => (reads.treeUsage++, (pid: number) => (options.readings ? { rssBytes: pid * 1000, cpuSeconds: pid } : null)),
    ...(options.readings ? { readingTimings: { refreshMs: options.refreshMs ?? 10, activeMs: 60_000, showMs: 60_000 } } : {}),
    now: () => Date.now(),
    parentEnv: { PATH: '/usr/bin:/bin' },
    isPortFree: async () => true,
    createRunner: (spec, deps) => {
      const runner = createRunner(spec, {
        ...deps,
        spawn: (s): GatewayProcess => {
          spawned.push(s.address);
          const pid = nextPid++;
          const exited = new Promise<GatewayExit>((resolve) => live.set(pid, resolve));
          return { pid, startTime: '1', exitSeen: exited.then(() => undefined), exited };
        },
        probe: async (port) => {
          const address = [...fleet.views()].find((v) => v.port === port)?.address ?? '';
          const ok = !hold.has(address);
          return { live: ok, ready: ok };
        },
        listenerCheck: (_port, pids) => ({ owner: 'agent', pid: [...pids][0] ?? 0, sockets: [] }),
        stopTree: async (target) => {
          live.get(target.pid)?.({ code: 0, signal: null });
          live.delete(target.pid);
          return { terminated: [target.pid], killed: [], groups: [], survivors: [], elapsedMs: 0 };
        },
        trackTree: () => undefined,
        countLeftovers: () => 0,
        findMarked: () => [],
        openLog: () => ({ stream: () => ({ write: () => undefined, end: () => undefined }), note: () => undefined, close: () => undefined }),
      });
      const status = runner.status.bind(runner);
      runner.status = () => (statusCalls.set(spec.address, (statusCalls.get(spec.address) ?? 0) + 1), status());
      return runner;
    },
  });
  const state = (address: string) => fleet.views().find((v) => v.address === address)!;
  return {
    manifest,
    fleet,
    get runtime() {
      return runtime;
    },
    /** Later installs wait on a new, pending install. */
    freshRuntime: () => (runtime = deferred<Runtime>()),
    spawned,
    hold,
    state,
    store,
    /** How often the fleet read /proc for its views. */
    reads,
    statusCalls,
    /** Ends a gateway as if it crashed (exit code 1). */
    crash: (pid: number) => live.get(pid)?.({ code: 1, signal: null }),
  };
}

describe('fleet: launches, stops and the single state', () => {
  test("an agent's log lines, its runner's included, carry its address once (one child logger per agent)", () =>
    withTempDir(async (dir) => {
      const lines: string[] = [];
      const { manifest, fleet, runtime, state } = setup(dir, { a: {} }, { lines });
      await fleet.load();
      await fleet.reconcile(manifest);
      runtime.resolve(fakeRuntime);
      await waitFor(() => state('acme/a').state === 'running', { timeoutMs: 5000, what: 'acme/a running' });
      await fleet.shutdown();
      const records = lines.join('').split('\n').filter(Boolean);
      const transitions = records.filter((l) => l.includes('"to":"starting"') || l.includes('"to":"running"'));
      assert.ok(transitions.length >= 2, `the runner logged its transitions: ${records.join('\n')}`);
      for (const line of transitions) {
        assert.equal(line.split('"agent":').length - 1, 1, `one agent binding: ${line}`);
        assert.equal(JSON.parse(line).agent, 'acme/a');
      }
    }));

  test("states() are the views' states, read without /proc (the systemd status line reads them per change)", () =>
    withTempDir(async (dir) => {
      const { manifest, fleet, runtime, state, reads } = setup(dir, { a: {}, b: {} });
      await fleet.load();
      await fleet.reconcile(manifest);
      runtime.resolve(fakeRuntime);
      await waitFor(() => state('acme/a').state === 'running' && state('acme/b').state === 'running', { timeoutMs: 5000, what: 'both running' });
      await fleet.stop('acme/b');
      const before = reads.treeUsage;
      assert.deepEqual([...fleet.states()].sort(), ['running', 'stopped']);
      assert.equal(reads.treeUsage, before, 'states() read /proc');
      assert.deepEqual(fleet.views().map((v) => v.state).sort(), ['running', 'stopped']);
      await fleet.shutdown();
    }));

  test("status never shows a reading of another state: after a crash, a respawn and a stop each agent shows its current pid's figures or null, and readings refresh", () =>
    withTempDir(async (dir) => {
      const { manifest, fleet, runtime, state, crash, reads } = setup(dir, { a: {}, b: {} }, { readings: true });
      await fleet.load();
      await fleet.reconcile(manifest);
      runtime.resolve(fakeRuntime);
      await waitFor(() => state('acme/a').state === 'running' && state('acme/b').state === 'running', { timeoutMs: 5000, what: 'both running' });
      try {
        const first = state('acme/a').pid as number;
        // a status after a quiet spell waits for one refresh: figures, not nulls
        const fresh = await fleet.statusViews();
        assert.deepEqual(fresh.map((v) => v.rssBytes), fresh.map((v) => v.pid! * 1000));
        const before = reads.treeUsage;
        await waitFor(() => reads.treeUsage > before + 2 || undefined, { timeoutMs: 5000, what: 'readings refreshed while status is asked for' });
        /** Every agent shows its own pid's figures, or none (what did not is collected: waitFor retries on a throw). */
        const wrong: string[] = [];
        const check = () => {
          for (const v of fleet.views()) {
            if (v.rssBytes !== null && v.rssBytes !== (v.pid ?? 0) * 1000) wrong.push(`${v.address} (${v.state}, pid ${v.pid}) showed the reading of pid ${v.rssBytes / 1000}`);
            if (v.pid === null && v.cpuSeconds !== null) wrong.push(`${v.address} (${v.state}) without a process showed CPU`);
          }
        };
        crash(first);
        // the exit is seen, then a new pid: at every moment, its own figures or null
        const seenStates = new Set<string>();
        await waitFor(
          () => {
            check();
            const a = state('acme/a');
            seenStates.add(`${a.state} ${a.pid === first ? 'old pid' : a.pid === null ? 'no pid' : 'new pid'}`);
            return a.state === 'running' && a.pid !== first && a.rssBytes === a.pid! * 1000 ? a : undefined;
          },
          { timeoutMs: 10_000, intervalMs: 1, what: 'acme/a running again with its new pid read' },
        );
        assert.ok([...seenStates].some((s) => !s.endsWith('new pid') && !s.startsWith('running')), `the exit was seen before the respawn: ${[...seenStates].join(', ')}`);
        await fleet.stop('acme/b');
        const stopped = state('acme/b');
        assert.equal(stopped.state, 'stopped');
        assert.equal(stopped.rssBytes, null, 'a stopped agent shows no RSS (its last run is gone)');
        check();
        assert.deepEqual(wrong, []);
      } finally {
        await fleet.shutdown();
      }
    }));

  test('a status request reads at once the agent whose state changed, and asks each other agent for its status once (its view)', () =>
    withTempDir(async (dir) => {
      const { manifest, fleet, runtime, state, crash, statusCalls } = setup(dir, { a: {}, b: {}, c: {} }, { readings: true, refreshMs: 600_000 });
      await fleet.load();
      await fleet.reconcile(manifest);
      runtime.resolve(fakeRuntime);
      await waitFor(() => ['acme/a', 'acme/b', 'acme/c'].every((a) => state(a).state === 'running'), { timeoutMs: 5000, what: 'all running' });
      try {
        await fleet.statusViews(); // one refresh: every agent read
        statusCalls.clear();
        const quiet = await fleet.statusViews();
        assert.deepEqual(quiet.map((v) => v.rssBytes), quiet.map((v) => v.pid! * 1000));
        assert.deepEqual(Object.fromEntries(statusCalls), { 'acme/a': 1, 'acme/b': 1, 'acme/c': 1 }, 'nothing changed: one status per agent, for its view');
        const first = state('acme/a').pid as number;
        crash(first);
        await waitFor(() => (state('acme/a').state === 'running' && state('acme/a').pid !== first) || undefined, { timeoutMs: 5000, what: 'acme/a running again' });
        statusCalls.clear();
        const after = await fleet.statusViews(); // no refresh comes (600 s): the request reads acme/a itself
        const a = after.find((v) => v.address === 'acme/a')!;
        assert.equal(a.rssBytes, a.pid! * 1000, 'the restarted agent shows its new run at once');
        assert.equal(statusCalls.get('acme/b'), 1);
        assert.equal(statusCalls.get('acme/c'), 1);
      } finally {
        await fleet.shutdown();
      }
    }));

  test('an agent stopped while it waits for its runtime is never spawned; the other one is', () =>
    withTempDir(async (dir) => {
      const { manifest, fleet, runtime, spawned, state } = setup(dir, { a: {}, b: {} });
      await fleet.load();
      await fleet.reconcile(manifest);
      await settle();
      assert.equal(state('acme/a').state, 'starting');
      assert.match(state('acme/a').reason, /waiting for OpenClaw runtime 2026\.9\.6$/);
      await fleet.stop('acme/a');
      assert.equal(state('acme/a').state, 'stopped', 'the stop did not wait for the runtime');
      runtime.resolve(fakeRuntime);
      await waitFor(() => state('acme/b').state === 'running', { timeoutMs: 5000, what: 'acme/b running' });
      await settle();
      assert.deepEqual(spawned, ['acme/b']);
      assert.equal(fleet.registry().agents['acme/a']?.desired, 'stopped');
      await fleet.shutdown();
    }));

  test('an agent removed from the manifest while it waits is not spawned, and its block is freed', () =>
    withTempDir(async (dir) => {
      const { manifest, fleet, runtime, spawned, state } = setup(dir, { a: {}, b: {} });
      await fleet.load();
      await fleet.reconcile(manifest);
      await settle();
      const without = { ...manifest, fleets: { acme: { ...manifest.fleets.acme!, agents: { b: manifest.fleets.acme!.agents.b! } } } };
      const result = await fleet.reconcile(without);
      assert.deepEqual(result.actions.map((a) => `${a.kind} ${a.address}`), ['stop acme/a', 'free acme/a'], 'a waiting launch counts as alive');
      runtime.resolve(fakeRuntime);
      await waitFor(() => state('acme/b').state === 'running', { timeoutMs: 5000, what: 'acme/b running' });
      await fleet.shutdown();
      assert.deepEqual(spawned, ['acme/b']);
      assert.equal(fleet.registry().agents['acme/a'], undefined);
    }));

  test('nothing is spawned once shutdown has begun', () =>
    withTempDir(async (dir) => {
      const { manifest, fleet, runtime, spawned } = setup(dir, { a: {} });
      await fleet.load();
      await fleet.reconcile(manifest);
      await settle();
      const stopping = fleet.shutdown();
      runtime.resolve(fakeRuntime);
      await stopping;
      await settle();
      assert.deepEqual(spawned, []);
    }));

  test('a reload while an agent waits plans no second start for it', () =>
    withTempDir(async (dir) => {
      const { manifest, fleet, runtime, spawned, state } = setup(dir, { a: {} });
      await fleet.load();
      await fleet.reconcile(manifest);
      await settle();
      const again = await fleet.reconcile(manifest, { dryRun: true });
      assert.deepEqual(again.actions, [], 'the waiting launch counts as starting');
      runtime.resolve(fakeRuntime);
      await waitFor(() => state('acme/a').state === 'running', { timeoutMs: 5000, what: 'acme/a running' });
      await fleet.shutdown();
      assert.deepEqual(spawned, ['acme/a'], 'once');
    }));

  // Both launches prepare at once and the pool admits them in the order they are ready:
  // whichever reaches the slot first holds it (its probe fails until released).
  test('with one start slot held by a booting agent, a stop of a second one waiting for the slot completes at once', () =>
    withTempDir(async (dir) => {
      const hold = new Set(['acme/a', 'acme/b']);
      const { manifest, fleet, runtime, spawned, state } = setup(dir, { a: {}, b: {} }, { startConcurrency: 1, holdBoot: hold });
      runtime.resolve(fakeRuntime);
      await fleet.load();
      await fleet.reconcile(manifest);
      await waitFor(() => spawned.length > 0, { timeoutMs: 5000, what: 'one agent spawned' });
      await settle();
      const booting = spawned[0]!;
      const waiting = booting === 'acme/a' ? 'acme/b' : 'acme/a';
      assert.equal(state(booting).state, 'starting', `${booting} holds the only slot while it boots`);
      assert.match(state(waiting).reason, /waiting for a start slot$/);
      await fleet.stop(waiting);
      assert.equal(state(waiting).state, 'stopped');
      assert.equal(state(booting).state, 'starting', `${booting} is still booting: ${waiting} did not wait for it`);
      hold.delete(booting);
      await waitFor(() => state(booting).state === 'running', { timeoutMs: 5000, what: `${booting} running` });
      await settle();
      assert.deepEqual(spawned, [booting], `${waiting} never spawned after its stop`);
      await fleet.shutdown();
    }));

  test('a failed agent restarted while the start pool is busy is `starting` to both the planner and status', () =>
    withTempDir(async (dir) => {
      const hold = new Set(['acme/a']);
      const fx = setup(dir, { a: {} }, { startConcurrency: 1, holdBoot: hold });
      const { manifest, fleet, state } = fx;
      await fleet.load();
      await fleet.reconcile(manifest);
      fx.runtime.reject(new Error('openclaw@2026.9.6 is not on the npm registry'));
      await waitFor(() => state('acme/a').state === 'failed', { timeoutMs: 5000, what: 'acme/a failed' });
      assert.match(state('acme/a').reason, /^cannot launch: OpenClaw runtime 2026\.9\.6 could not be installed: openclaw@2026\.9\.6 is not on the npm registry; not retried/);
      fx.freshRuntime();
      const view = await fleet.restart('acme/a', { wait: false });
      assert.equal(view.state, 'starting');
      assert.doesNotMatch(view.reason, /not on the npm registry/, 'no stale reason');
      const plan = await fleet.reconcile(manifest, { dryRun: true });
      assert.deepEqual(plan.actions, [], 'the planner sees it starting too');
      await fleet.shutdown();
    }));
});

describe('fleet: a reconfigure holds its agent', () => {
  /** a and b running, a with a config the test changes; the gateway never confirms (nothing serves /startupz), so a reconfigure waits its whole reloadTimeoutMs. */
  async function runningPair(dir: string) {
    const fx = setup(dir, { a: { config: { tools: { profile: 'minimal' } } }, b: {} }, { reloadTimeoutMs: 120_000 });
    fx.runtime.resolve(fakeRuntime);
    await fx.fleet.load();
    await fx.fleet.reconcile(fx.manifest);
    await waitFor(() => fx.state('acme/a').state === 'running' && fx.state('acme/b').state === 'running', { timeoutMs: 5000, what: 'both running' });
    const changed = structuredClone(fx.manifest);
    changed.fleets.acme!.agents.a!.config = { tools: { profile: 'coding' } };
    const result = await fx.fleet.reconcile(changed);
    assert.deepEqual(result.actions.map((a) => `${a.kind} ${a.address}`), ['reconfigure acme/a']);
    await waitFor(() => fx.state('acme/a').state === 'reconfiguring', { timeoutMs: 5000, what: 'acme/a reconfiguring' });
    return { ...fx, result };
  }

  test('a rollout step on the agent (exclusive with its address) waits until its reconfigure ended', () =>
    withTempDir(async (dir) => {
      const { fleet, state, result } = await runningPair(dir);
      const seenByStep: string[] = [];
      const step = fleet.exclusive(async () => void seenByStep.push(state('acme/a').state), 'acme/a');
      await settle();
      assert.deepEqual(seenByStep, [], 'the step did not run beside the reconfigure');
      await fleet.stop('acme/a'); // ends the reconfigure's watch at once
      const [outcome] = await result.reconfigured;
      assert.equal(outcome!.result, 'skipped', outcome!.reason);
      await step;
      assert.deepEqual(seenByStep, ['stopped']);
      await fleet.shutdown();
    }));

  test('a rolling restart\'s turn waits for it, and skips the agent the operator stopped meanwhile', () =>
    withTempDir(async (dir) => {
      const { fleet, state, result, spawned } = await runningPair(dir);
      const before = spawned.length;
      const steps: string[] = [];
      const rolling = fleet.rollingRestart('acme', {}, (p) => steps.push(`${p.step} ${p.address}`));
      await waitFor(() => steps.includes('restarting acme/a'), { timeoutMs: 5000, what: 'the rolling restart to reach acme/a' });
      await settle();
      assert.equal(state('acme/a').state, 'reconfiguring', 'not restarted beside its reconfigure');
      await fleet.stop('acme/a');
      assert.equal((await result.reconfigured)[0]!.result, 'skipped');
      const done = await rolling;
      assert.deepEqual(done.skipped, ['acme/a']);
      assert.deepEqual(done.restarted, ['acme/b']);
      assert.equal(state('acme/a').state, 'stopped', 'the operator\'s stop held');
      assert.equal(spawned.length, before + 1, 'only acme/b was spawned again');
      await fleet.shutdown();
    }));
});

describe('fleet: stop and start of many agents (stop --all, start fleet F) and the membership section', () => {
  test('a bulk stop waits for an exclusive step under way (a rollout\'s stop-snapshot-start), then stops every agent; an unknown fleet is NOT_FOUND at once', () =>
    withTempDir(async (dir) => {
      const { manifest, fleet, runtime, state } = setup(dir, { a: {}, b: {} });
      runtime.resolve(fakeRuntime);
      await fleet.load();
      await fleet.reconcile(manifest);
      await waitFor(() => ['acme/a', 'acme/b'].every((a) => state(a).state === 'running'), { timeoutMs: 5000, what: 'both running' });
      assert.throws(() => fleet.stopMany('nope'), /no fleet nope/, 'NOT_FOUND before anything is queued');
      let release!: () => void;
      const step = fleet.exclusive(() => new Promise<void>((r) => (release = r)));
      const steps: string[] = [];
      const stopping = fleet.stopMany(undefined, {}, (s) => steps.push(`${s.step} ${s.address}`));
      await settle();
      assert.deepEqual([state('acme/a').state, state('acme/b').state], ['running', 'running'], 'nothing stopped while the step holds the section');
      release();
      await step;
      const result = await stopping;
      assert.deepEqual(result.done.sort(), ['acme/a', 'acme/b']);
      assert.deepEqual(steps.sort(), ['stopped acme/a', 'stopped acme/b']);
      assert.deepEqual([state('acme/a').state, state('acme/b').state], ['stopped', 'stopped']);
      assert.deepEqual([state('acme/a').desired, state('acme/b').desired], ['stopped', 'stopped'], 'the operator\'s wish is recorded');
      await fleet.shutdown();
    }));

  test('a bulk start asks for the starts inside the section and waits for the boots outside it', () =>
    withTempDir(async (dir) => {
      const hold = new Set(['acme/a']);
      const { manifest, fleet, runtime, state } = setup(dir, { a: {}, b: {} }, { holdBoot: hold });
      runtime.resolve(fakeRuntime);
      await fleet.load();
      await fleet.reconcile(manifest);
      await waitFor(() => state('acme/b').state === 'running', { timeoutMs: 5000, what: 'acme/b running' });
      await fleet.stopMany('acme');
      const starting = fleet.startMany('acme', { wait: true });
      await waitFor(() => state('acme/a').state === 'starting' && state('acme/b').state === 'running', { timeoutMs: 5000, what: 'a booting, b running' });
      let settledFirst = false;
      void starting.then(() => (settledFirst = true));
      await fleet.exclusive(async () => undefined); // a reload or rollout step is not held by the boot of acme/a
      assert.equal(settledFirst, false, 'the start is still waiting for acme/a');
      hold.delete('acme/a');
      const result = await starting;
      assert.deepEqual(result.done.sort(), ['acme/a', 'acme/b']);
      assert.deepEqual(result.failed, []);
      assert.equal(state('acme/a').desired, 'running');
      await fleet.shutdown();
    }));
});
