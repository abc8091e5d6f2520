// The runner's state machine with every dependency faked: fake clock and timers, fake
// processes, fake probes. Exact delays and transitions, no real time passes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { GatewayExit, GatewayProcess } from './spawn-gateway.js';
import type { WatchMiss, WatchOptions } from './shim-handle.js';
import type { LogSink } from './log-sink.js';
import type { ProbeResult } from './probe.js';
import { createRunner, LISTENER_REFUSED_RECHECK_MS, STARTING_PROBE_MS, startingProbeDelayMs, type RunnerDeps } from './runner.js';
import { FleetError } from '../errors.js';
import { createWatchWheel } from './watch-wheel.js';
import type { AgentCgroup } from '../isolation/cgroup-agent.js';
import { memoryLogger } from '../../test/support/testkit.js';
import type { AgentState, LaunchSpec } from './types.js';

const spec: LaunchSpec = {
  address: 'f/a',
  argv: ['openclaw', 'gateway', 'run', '--port', '20000'],
  cwd: '/nonexistent',
  env: {},
  port: 20000,
  token: 't'.repeat(64),
  logFile: '/nonexistent/gateway.log',
  logs: { maxBytes: 1024, maxFiles: 2 },
  stopTimeoutMs: 1000,
  health: { intervalMs: 1000, timeoutMs: 100, failureThreshold: 3, startupTimeoutMs: 30_000 },
  restart: { initialDelayMs: 100, factor: 2, maxDelayMs: 1000, resetAfterMs: 60_000, noRestartExitCodes: [78] },
};

/** Lets queued promise chains run. */
const flush = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

interface FakeProc extends GatewayProcess {
  end(exit: GatewayExit): void;
}

function harness() {
  let now = 1_000_000;
  let nextId = 1;
  const timers = new Map<number, { at: number; fn: () => void }>();
  const procs: FakeProc[] = [];
  let live = true;
  const logger = memoryLogger();
  const sink: LogSink = { stream: () => ({ write: () => undefined, end: () => undefined }), note: () => undefined, close: () => undefined };
  const deps: Partial<RunnerDeps> = {
    clock: { now: () => now },
    setTimer: (fn, ms) => {
      const id = nextId++;
      timers.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimer: (id) => void timers.delete(id as number),
    random: () => 0,
    logger,
    openLog: () => sink,
    trackTree: () => undefined,
    countLeftovers: () => 0,
    spawn: () => {
      let end: (exit: GatewayExit) => void = () => undefined;
      const exited = new Promise<GatewayExit>((r) => (end = r));
      const proc: FakeProc = { pid: 5000 + procs.length, startTime: '1', exitSeen: exited.then(() => undefined), exited, end: (e) => end(e) };
      procs.push(proc);
      return proc;
    },
    probe: async (): Promise<ProbeResult> => ({ live, ready: live }),
    // the fake process "owns" its port (no /startupz: liveness decides, as for a non-OpenClaw gateway)
    listenerCheck: (_port, pids) => ({ owner: 'agent', pid: [...pids][0] ?? 0, sockets: [] }),
    stopTree: async (target) => {
      procs.find((p) => p.pid === target.pid)?.end({ code: 0, signal: null });
      return { terminated: [target.pid], killed: [], groups: [], survivors: [], elapsedMs: 0 };
    },
  };
  /** Advances the fake clock, firing due timers in order. */
  const advance = async (ms: number) => {
    const target = now + ms;
    for (;;) {
      await flush();
      const due = [...timers].filter(([, t]) => t.at <= target).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      timers.delete(due[0]);
      now = due[1].at;
      due[1].fn();
    }
    now = target;
    await flush();
  };
  return {
    deps,
    procs,
    logger,
    advance,
    setLive: (v: boolean) => (live = v),
    now: () => now,
    /** Timers armed now. */
    pending: () => timers.size,
  };
}

describe('runner state machine (fake deps)', () => {
  test('backoff doubles per crash, caps, and resets after resetAfterMs of healthy running', async () => {
    const h = harness();
    const runner = createRunner(spec, h.deps);
    const states: AgentState[] = [];
    runner.on('state', (s) => void states.push(s.state));
    runner.start();
    await h.advance(0);
    assert.equal(runner.status().state, 'running');

    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      h.procs.at(-1)?.end({ code: 1, signal: null });
      await h.advance(0);
      const s = runner.status();
      assert.equal(s.state, 'backoff');
      assert.ok(s.nextStartAt !== null);
      delays.push(s.nextStartAt - h.now());
      await h.advance(delays.at(-1) as number);
      assert.equal(runner.status().state, 'running');
    }
    assert.deepEqual(delays, [100, 200, 400, 800, 1000]);
    assert.equal(runner.status().restarts, 5);

    await h.advance(60_000); // healthy long enough
    h.procs.at(-1)?.end({ code: 1, signal: null });
    await h.advance(0);
    assert.match(runner.status().reason, /^exited with code 1 after 1 min; restart 1 in 100 ms$/);
    assert.equal(h.procs.length, 6);
    await runner.stop();
    assert.deepEqual(h.logger.errors(), []);
  });

  test('a restart without delay (initialDelayMs 0) launches at once: no timer stands between the exit and the next spawn', async () => {
    const h = harness();
    const runner = createRunner({ ...spec, restart: { ...spec.restart, initialDelayMs: 0 } }, h.deps);
    const states: AgentState[] = [];
    runner.on('state', (s) => void states.push(s.state));
    runner.start();
    await h.advance(0);
    assert.equal(runner.status().state, 'running');
    states.length = 0;
    h.procs.at(-1)?.end({ code: 1, signal: null });
    // no fake time passes: only promise chains and I/O turns run, no timer fires
    for (let i = 0; i < 5 && h.procs.length < 2; i++) await new Promise((r) => setImmediate(r));
    assert.equal(h.procs.length, 2, 'spawned again without a timer firing');
    assert.deepEqual(states.slice(0, 2), ['backoff', 'starting'], 'still through backoff (0 ms), as the policy says');
    assert.match(runner.status().reason, /^restart 1 after backoff/);
    await h.advance(0);
    assert.equal(runner.status().state, 'running');
    assert.equal(runner.status().restarts, 1);
    await runner.stop();
    assert.deepEqual(h.logger.errors(), []);
  });

  test('status() is one frozen object while nothing it shows changes, and a new one on each change (views compare by identity)', async () => {
    const h = harness();
    const runner = createRunner({ ...spec, restart: { ...spec.restart, initialDelayMs: 0 } }, h.deps);
    const stopped = runner.status();
    assert.equal(runner.status(), stopped, 'asked twice, nothing changed: the same object');
    assert.ok(Object.isFrozen(stopped) && Object.isFrozen(stopped.health));
    assert.throws(() => {
      (stopped as { state: string }).state = 'running';
    }, TypeError);
    runner.start();
    await h.advance(0);
    const running = runner.status();
    assert.notEqual(running, stopped);
    assert.equal(running.state, 'running');
    assert.equal(stopped.state, 'stopped', 'a status given out before never changes');
    await h.advance(spec.health.intervalMs); // a probe round: the same figures, a new health object inside the runner
    const probed = runner.status();
    assert.equal(probed.state, 'running');
    assert.deepEqual(probed.health, running.health);
    assert.equal(runner.status(), probed);
    h.setLive(false);
    await h.advance(spec.health.intervalMs); // a failed probe: the health shown changes
    const missed = runner.status();
    assert.notEqual(missed, probed);
    assert.equal(missed.health.live, false);
    assert.equal(runner.status(), missed);
    h.setLive(true);
    h.procs.at(-1)?.end({ code: 1, signal: null });
    await h.advance(0);
    const again = runner.status();
    assert.notEqual(again, missed);
    assert.equal(again.restarts, 1);
    assert.ok(again.lastExit && Object.isFrozen(again.lastExit));
    assert.equal(again.lastExit.code, 1);
    await runner.stop();
    assert.equal(runner.status().state, 'stopped');
    assert.deepEqual(h.logger.errors(), []);
  });

  test('a gateway that ended while fleetd was away: the reason says how, in one sentence, and the restart policy applies', async () => {
    const h = harness();
    const runner = createRunner(spec, h.deps);
    const reasons: string[] = [];
    runner.on('state', (s) => void reasons.push(`${s.state}: ${s.reason}`));
    const at = h.now() - 1000;
    await runner.adoptExit({ code: 3, signal: null, at }, { spec, spawnedAt: at - 150_000, runningSince: at - 149_000, restarts: 2, why: 'test', pid: 4242 });
    await h.advance(0);
    assert.ok(reasons.includes('starting: the gateway exited with code 3 after 2.5 min: while fleetd was away'), reasons.join(' | '));
    assert.equal(runner.status().lastExit?.code, 3);
    await runner.stop();
  });

  test('refused probes while starting check the listener at most every LISTENER_REFUSED_RECHECK_MS; an answer checks it at once', async () => {
    const h = harness();
    const checks: number[] = [];
    let probes = 0;
    let listening = false;
    h.deps.probe = async (): Promise<ProbeResult> => (probes++, listening ? { live: true, ready: true } : { live: false, ready: null, error: 'ECONNREFUSED', refused: true });
    h.deps.listenerCheck = (_port, pids) => (checks.push(h.now()), listening ? { owner: 'agent', pid: [...pids][0] ?? 0, sockets: [] } : { owner: 'none' });
    const runner = createRunner(spec, h.deps);
    runner.start();
    await h.advance(3000);
    assert.equal(runner.status().state, 'starting');
    assert.match(runner.status().reason, /nothing listens on port 20000 yet/);
    assert.ok(probes > checks.length + 3, `${probes} probes, ${checks.length} listener checks`);
    for (let i = 1; i < checks.length; i++) assert.ok(checks[i]! - checks[i - 1]! >= LISTENER_REFUSED_RECHECK_MS, `checks at ${checks.map((c) => c - checks[0]!).join(', ')} ms`);
    listening = true;
    const before = checks.length;
    await h.advance(STARTING_PROBE_MS);
    assert.equal(checks.length, before + 1, 'the probe that answered checked the listener');
    assert.equal(runner.status().state, 'running');
    await runner.stop();
  });

  test('while starting with a cgroup, its members are read only when a listener is on the port', async () => {
    const h = harness();
    let reads = 0;
    let listening = false;
    const none = () => ({ oomKills: 0, limitHits: 0 });
    let ended = false;
    const signal = async () => {
      ended = true;
      for (const p of h.procs) p.end({ code: null, signal: 'SIGTERM' });
      return h.procs.map((p) => p.pid!);
    };
    const cgroup = { name: 'f@a', pids: () => (ended ? [] : h.procs.map((p) => p.pid!)), memberPids: () => (reads++, ended ? [] : h.procs.map((p) => p.pid!)), isEmpty: () => ended, signal, killAll: signal, oomBaseline: none, oomCounters: none } as unknown as AgentCgroup;
    h.deps.probe = async (): Promise<ProbeResult> => (listening ? { live: true, ready: true } : { live: false, ready: null, error: 'ECONNREFUSED', refused: true });
    // as the real check: no socket on the port, no members asked for
    h.deps.listenerCheck = (_port, pids) => (listening ? { owner: 'agent', pid: [...pids][0] ?? 0, sockets: [] } : { owner: 'none' });
    const runner = createRunner({ ...spec, isolation: { cgroup } }, h.deps);
    runner.start();
    await h.advance(3000);
    assert.equal(runner.status().state, 'starting');
    assert.equal(reads, 0, 'nothing listens: no cgroup read');
    listening = true;
    await h.advance(STARTING_PROBE_MS);
    assert.equal(runner.status().state, 'running');
    assert.equal(reads, 1, 'the listener found: its members read once');
    await runner.stop();
    assert.equal(runner.status().state, 'stopped');
  });

  test('every launch waits for a start slot, holds it while starting, and a stop meanwhile is neither blocked nor followed by a spawn', async () => {
    const h = harness();
    const grants: Array<() => void> = [];
    let held = 0;
    let waiting = 0;
    h.deps.bootSlot = (signal) =>
      new Promise((resolve, reject) => {
        waiting += 1;
        const grant = () => {
          waiting -= 1;
          held += 1;
          resolve(() => (held -= 1));
        };
        grants.push(grant);
        signal.addEventListener('abort', () => {
          waiting -= 1;
          reject(new Error('aborted'));
        });
      });
    const runner = createRunner(spec, h.deps);
    runner.start();
    await h.advance(0);
    assert.equal(runner.status().state, 'starting');
    assert.match(runner.status().reason, /waiting for a start slot$/);
    assert.equal(h.procs.length, 0, 'no spawn without a slot');
    h.setLive(false);
    grants.shift()!();
    await h.advance(0);
    assert.equal(h.procs.length, 1);
    assert.equal(held, 1, 'the slot is held while starting');
    h.setLive(true);
    await h.advance(1000);
    assert.equal(runner.status().state, 'running');
    assert.equal(held, 0, 'released once running');

    h.procs[0]?.end({ code: 1, signal: null });
    await h.advance(5_000);
    assert.equal(runner.status().state, 'starting', 'the automatic restart waits for a slot too');
    assert.equal(h.procs.length, 1);
    assert.equal(waiting, 1);
    await runner.stop(); // not blocked by the pending slot
    assert.equal(runner.status().state, 'stopped');
    assert.equal(waiting, 0, 'the stop withdrew the launch from the start pool');
    await h.advance(10_000);
    assert.equal(h.procs.length, 1, 'nothing is spawned after the stop');
    assert.equal(held, 0);
  });

  test('prepare runs before every spawn, automatic restarts included, and its spec is the one launched', async () => {
    const h = harness();
    let calls = 0;
    h.deps.prepare = async (_signal, report) => {
      calls += 1;
      report(`installing runtime, call ${calls}`);
      return { ...spec, argv: [...spec.argv, `--call-${calls}`] };
    };
    const spawned: string[][] = [];
    const spawn = h.deps.spawn!;
    h.deps.spawn = (s, io) => {
      spawned.push(s.argv);
      return spawn(s, io);
    };
    const runner = createRunner(spec, h.deps);
    runner.start();
    await h.advance(0);
    assert.equal(runner.status().state, 'running');
    h.procs[0]?.end({ code: null, signal: 'SIGKILL' });
    await h.advance(100);
    assert.equal(runner.status().state, 'running');
    await runner.restart();
    await h.advance(0);
    assert.equal(calls, 3);
    assert.deepEqual(spawned.map((argv) => argv.at(-1)), ['--call-1', '--call-2', '--call-3']);
    await runner.stop();
  });

  test('a launch that cannot be prepared: transient backs off and comes back, permanent fails, the same counter throughout', async () => {
    const h = harness();
    const outcomes: Array<'transient' | 'permanent' | 'ok'> = ['transient', 'transient', 'ok'];
    h.deps.prepare = async () => {
      const next = outcomes.shift() ?? 'permanent';
      if (next === 'ok') return spec;
      throw new FleetError('PROVISION_FAILED', next === 'transient' ? 'no space left on device' : 'home is a symlink', { transient: next === 'transient' });
    };
    const runner = createRunner(spec, h.deps);
    runner.start();
    await h.advance(0);
    assert.equal(runner.status().state, 'backoff');
    assert.equal(runner.status().reason, 'cannot launch: no space left on device; restart 1 in 100 ms');
    await h.advance(100);
    assert.equal(runner.status().reason, 'cannot launch: no space left on device; restart 2 in 200 ms');
    await h.advance(200);
    assert.equal(runner.status().state, 'running');
    assert.equal(h.procs.length, 1);
    h.procs[0]?.end({ code: 1, signal: null });
    await h.advance(0);
    assert.match(runner.status().reason, /; restart 3 in 400 ms$/, 'one backoff counter for exits and launch failures');
    await h.advance(400);
    assert.equal(runner.status().state, 'failed');
    assert.equal(runner.status().reason, 'cannot launch: home is a symlink; not retried, since waiting cannot fix it');
    await h.advance(100_000);
    assert.equal(h.procs.length, 1);
    assert.deepEqual(h.logger.errors().filter((e) => e.msg?.startsWith('illegal')), []);
  });

  test('a stop while the launch is still preparing cancels it: stopped at once, prepare aborted, nothing spawned', async () => {
    const h = harness();
    let aborted = false;
    let finish: (() => void) | undefined;
    h.deps.prepare = (signal) =>
      new Promise((resolve) => {
        signal.addEventListener('abort', () => (aborted = true));
        finish = () => resolve(spec);
      });
    const runner = createRunner(spec, h.deps);
    runner.start();
    await h.advance(0);
    assert.equal(runner.status().state, 'starting');
    await runner.stop();
    assert.equal(runner.status().state, 'stopped');
    assert.equal(aborted, true);
    finish!(); // the runtime install finishes anyway
    await h.advance(1000);
    assert.equal(h.procs.length, 0, 'a cancelled launch never spawns');
    assert.equal(runner.status().state, 'stopped');
  });

  test('stop during backoff cancels the restart; start() while running is a no-op', async () => {
    const h = harness();
    const runner = createRunner(spec, h.deps);
    runner.start();
    await h.advance(0);
    runner.start();
    await h.advance(0);
    assert.equal(h.procs.length, 1, 'no second spawn');
    h.procs[0]?.end({ code: null, signal: 'SIGSEGV' });
    await h.advance(0);
    assert.match(runner.status().reason, /^killed by SIGSEGV after 0 ms; restart 1 in 100 ms$/);
    await runner.stop();
    assert.equal(runner.status().state, 'stopped');
    await h.advance(10_000);
    assert.equal(h.procs.length, 1, 'the cancelled backoff never fires');
    assert.equal(runner.status().state, 'stopped');
  });

  test('failed probes count only in a row; failureThreshold of them stop and restart the gateway', async () => {
    const h = harness();
    const runner = createRunner(spec, h.deps);
    runner.start();
    await h.advance(0);
    h.setLive(false);
    await h.advance(2000); // two failures
    h.setLive(true);
    await h.advance(1000); // success resets
    h.setLive(false);
    await h.advance(2000); // two more: still below 3 in a row
    assert.equal(runner.status().state, 'running');
    await h.advance(1000); // third in a row
    assert.equal(runner.status().state, 'backoff');
    assert.match(runner.status().reason, /^stopped after 3 failed health probes in a row, hung after 6 s; restart 1 in 100 ms$/);
    h.setLive(true);
    await h.advance(100);
    assert.equal(runner.status().state, 'running');
    assert.equal(h.procs.length, 2);
    await runner.stop();
  });

  test('startup timeout, exit 78, and a listener that throws', async () => {
    const h = harness();
    const runner = createRunner(spec, h.deps);
    runner.on('state', () => {
      throw new Error('listener bug');
    });
    h.setLive(false);
    runner.start();
    await h.advance(30_000);
    assert.equal(runner.status().state, 'backoff');
    assert.match(runner.status().reason, /^no answer on \/healthz within 30 s; stopped; restart 1 in 100 ms$/);
    await h.advance(100);
    assert.equal(runner.status().state, 'starting');
    h.procs.at(-1)?.end({ code: 78, signal: null });
    await h.advance(0);
    assert.equal(runner.status().state, 'failed');
    await h.advance(100_000);
    assert.equal(h.procs.length, 2, 'failed is not restarted');
    assert.ok(h.logger.errors().some((e) => e.msg === 'runner event listener threw'));
    assert.ok(!h.logger.errors().some((e) => e.msg?.startsWith('illegal')));
  });

  test('reconfigure: running -> reconfiguring -> running on the same process; probes missed meanwhile are no hang', async () => {
    const h = harness();
    const runner = createRunner(spec, h.deps);
    runner.start();
    await h.advance(0);
    assert.equal(runner.status().state, 'running');
    const pid = runner.status().pid;
    const handle = await runner.reconfigure('openclaw.json changed; writing it');
    assert.ok(handle);
    assert.equal(handle.pid, pid);
    assert.equal(runner.status().state, 'reconfiguring');
    handle.progress('openclaw.json changed; the gateway restarts in-process');
    assert.equal(runner.status().reason, 'openclaw.json changed; the gateway restarts in-process');
    h.setLive(false); // an in-process restart closes the port for a while
    await h.advance(spec.health.intervalMs * (spec.health.failureThreshold + 2));
    assert.equal(runner.status().state, 'reconfiguring', 'missed probes while reconfiguring do not count as a hang');
    assert.equal(h.procs.length, 1);
    h.setLive(true);
    assert.equal(await handle.settle({ applied: true, reason: 'applied in place' }), true);
    assert.equal(runner.status().state, 'running');
    assert.equal(runner.status().reason, 'applied in place');
    assert.equal(runner.status().pid, pid);
    assert.equal(runner.status().restarts, 0);
    assert.equal(handle.current(), false);
    assert.equal(await handle.settle({ applied: false, reason: 'late' }), false, 'a settled handle does nothing');
    assert.equal(h.procs.length, 1);
    // back to running: the hang detection is armed again
    h.setLive(false);
    await h.advance(spec.health.intervalMs * (spec.health.failureThreshold + 1));
    assert.notEqual(runner.status().state, 'running');
    await runner.stop();
  });

  test('reconfigure not applied: a restart with the reason, counted; a newer reconfigure supersedes an older one', async () => {
    const h = harness();
    const runner = createRunner(spec, h.deps);
    runner.start();
    await h.advance(0);
    const first = await runner.reconfigure('change 1');
    const second = await runner.reconfigure('change 2');
    assert.ok(first && second);
    assert.equal(first.current(), false);
    assert.equal(second.current(), true);
    assert.equal(await first.settle({ applied: false, reason: 'stale' }), false);
    assert.equal(runner.status().state, 'reconfiguring');
    const states: string[] = [];
    runner.on('state', (s) => void states.push(`${s.state}: ${s.reason}`));
    assert.equal(await second.settle({ applied: false, reason: 'openclaw.json changed; not applied in place: rejected' }), true);
    await h.advance(0);
    assert.equal(h.procs.length, 2, 'a new process');
    assert.equal(runner.status().state, 'running');
    assert.equal(runner.status().restarts, 1);
    assert.ok(states.some((s) => s.startsWith('stopping: restarting pid 5000: openclaw.json changed; not applied in place: rejected')), states.join('\n'));
    await runner.stop();
  });

  test('reconfigure is refused unless running, and ends when the process exits or is stopped', async () => {
    const h = harness();
    const runner = createRunner(spec, h.deps);
    assert.equal(await runner.reconfigure('x'), null, 'stopped: nothing to apply it');
    runner.start();
    await h.advance(0);
    const exitDuring = await runner.reconfigure('x');
    assert.ok(exitDuring);
    h.procs[0]?.end({ code: 1, signal: null });
    await h.advance(0);
    assert.equal(runner.status().state, 'backoff', 'an exit while reconfiguring takes the usual way');
    assert.equal(exitDuring.current(), false);
    assert.equal(await exitDuring.settle({ applied: true, reason: 'too late' }), false);
    assert.equal(runner.status().state, 'backoff');
    assert.equal(await runner.reconfigure('x'), null, 'backoff: nothing runs');
    await h.advance(1000);
    assert.equal(runner.status().state, 'running');
    const stopDuring = await runner.reconfigure('y');
    assert.ok(stopDuring);
    await runner.stop();
    assert.equal(runner.status().state, 'stopped');
    assert.equal(await stopDuring.settle({ applied: false, reason: 'restart please' }), false, 'no restart after a stop');
    await h.advance(1000);
    assert.equal(runner.status().state, 'stopped');
    assert.equal(h.procs.length, 2);
  });

  test('while starting, probes come after 2, 4, 8 ... ms up to 500 ms (and never slower than the health interval); then once per interval', async () => {
    const h = harness();
    const probedAt: number[] = [];
    let answers = 0;
    h.deps.probe = async () => {
      probedAt.push(h.now());
      answers += 1;
      return { live: answers > 10, ready: null };
    };
    const runner = createRunner({ ...spec, health: { ...spec.health, intervalMs: 10_000 } }, h.deps);
    await runner.start();
    await h.advance(0);
    const t0 = probedAt[0]!;
    await h.advance(3000);
    assert.equal(runner.status().state, 'running');
    assert.deepEqual(probedAt.map((t) => t - t0), [0, 2, 6, 14, 30, 62, 126, 254, 510, 1010, 1510]);
    await h.advance(10_000);
    assert.equal(probedAt.at(-1)! - probedAt.at(-2)!, 10_000);
    assert.deepEqual([0, 1, 4, 6, 7, 8, 30].map((n) => startingProbeDelayMs(n, 10_000)), [2, 4, 32, 128, 256, 500, 500]);
    assert.equal(startingProbeDelayMs(0, 50), 2);
    assert.equal(startingProbeDelayMs(5, 50), 50, 'a short health interval caps it');
    await runner.stop();
  });
  test('while a start verdict waits for its listener check, status shows the previous round whole: health and reason change together', async () => {
    const h = harness();
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    h.deps.listenerCheck = async (_port, pids) => {
      await held;
      return { owner: 'agent', pid: [...pids][0] ?? 0, sockets: [] };
    };
    const runner = createRunner(spec, h.deps);
    void runner.start();
    await h.advance(0);
    const waiting = runner.status();
    assert.equal(waiting.state, 'starting');
    assert.deepEqual(waiting.health, { live: false, ready: null }, 'the answered probe is not shown before its verdict');
    release();
    await h.advance(0);
    const after = runner.status();
    assert.equal(after.state, 'running');
    assert.equal(after.health.live, true);
    await runner.stop();
  });

  describe("readiness watched by the gateway's holder (its shim)", () => {
    /** A harness whose processes' holder can watch: every watch asked, and a way to report a miss. */
    function watching(options: { refuse?: boolean; stuck?: boolean } = {}) {
      const h = harness();
      const asked: Array<{ pid: number | null; options: WatchOptions }> = [];
      const misses = new Map<number | null, (miss: WatchMiss) => void>();
      let unwatched = 0;
      const pings: number[] = [];
      const pinged: Array<number | null> = [];
      const spawn = h.deps.spawn!;
      h.deps.spawn = async (launch, io) => {
        const proc = await spawn(launch, io);
        proc.readiness = {
          watch: async (watchOptions, onMiss) => {
            asked.push({ pid: proc.pid, options: watchOptions });
            if (options.refuse) throw new FleetError('CONFLICT', 'this shim cannot watch');
            misses.set(proc.pid, onMiss);
          },
          unwatch: async () => {
            unwatched += 1;
            misses.delete(proc.pid);
          },
          ping: async (timeoutMs) => {
            pings.push(timeoutMs);
            pinged.push(proc.pid);
            if (options.stuck) throw new FleetError('TIMEOUT', `shim did not answer within ${timeoutMs} ms`);
          },
        };
        return proc;
      };
      let probes = 0;
      let ready = true;
      let live = true;
      h.deps.probe = async () => {
        probes += 1;
        return { live, ready: live ? ready : null };
      };
      const tracked: number[] = [];
      h.deps.trackTree = (pid) => void tracked.push(pid);
      return {
        h,
        asked,
        miss: (pid: number | null, miss: WatchMiss = { at: h.now(), status: 503, error: 'answered 503' }) => misses.get(pid)?.(miss),
        probes: () => probes,
        unwatched: () => unwatched,
        pings,
        pinged,
        tracked,
        setReady: (v: boolean) => (ready = v),
        setLive: (v: boolean) => (live = v),
      };
    }

    test('a running, ready gateway is handed over: fleetd stops probing; a miss brings its rounds back at once; ready again, handed over again', async () => {
      const w = watching();
      const runner = createRunner(spec, w.h.deps);
      await runner.start();
      await w.h.advance(0);
      assert.equal(runner.status().state, 'running');
      // the start verdict, then one steady round that finds it ready
      await w.h.advance(spec.health.intervalMs);
      const pid = w.h.procs[0]!.pid;
      assert.deepEqual(w.asked, [{ pid, options: { port: spec.port, path: '/readyz', intervalMs: spec.health.intervalMs, timeoutMs: spec.health.timeoutMs } }]);
      const before = w.probes();
      await w.h.advance(spec.health.intervalMs * 10);
      assert.equal(w.probes(), before, 'no probe of fleetd while the shim watches');

      w.setReady(false);
      w.miss(pid);
      await w.h.advance(0);
      assert.equal(w.probes(), before + 1, 'a miss: fleetd probes at once');
      assert.equal(runner.status().health.ready, false);
      await w.h.advance(spec.health.intervalMs);
      assert.equal(w.probes(), before + 2, 'not ready: fleetd keeps probing every interval');
      assert.equal(w.asked.length, 1, 'a gateway that is not ready is not handed over');
      w.setReady(true);
      await w.h.advance(spec.health.intervalMs);
      assert.equal(w.asked.length, 2, 'ready again: handed over again');
      const after = w.probes();
      await w.h.advance(spec.health.intervalMs * 5);
      assert.equal(w.probes(), after);
      // a miss that comes late, for a watch already ended, changes nothing
      await runner.stop();
      w.miss(pid);
      await w.h.advance(spec.health.intervalMs);
      assert.equal(w.probes(), after);
      assert.deepEqual(w.h.logger.errors(), []);
    });

    test('a hang seen by the shim is judged by fleetd: failureThreshold rounds of its own, then a restart', async () => {
      const w = watching();
      const runner = createRunner(spec, w.h.deps);
      await runner.start();
      await w.h.advance(spec.health.intervalMs);
      assert.equal(w.asked.length, 1);
      w.setLive(false);
      w.miss(w.h.procs[0]!.pid, { at: w.h.now(), status: null, error: `no answer within ${spec.health.timeoutMs} ms` });
      await w.h.advance(0);
      assert.equal(runner.status().state, 'running', 'one failed round is not a hang');
      await w.h.advance(spec.health.intervalMs * (spec.health.failureThreshold - 2));
      assert.equal(w.h.procs.length, 1, 'two failed rounds are not a hang yet');
      await w.h.advance(spec.health.intervalMs + spec.restart.initialDelayMs);
      assert.equal(w.h.procs.length, 2, 'restarted after failureThreshold failed rounds');
      await runner.stop();
    });

    test('while watched, fleetd asks the holder to answer every failureThreshold intervals; a holder that does not (stopped, stuck) is a miss', async () => {
      const healthy = watching();
      const runner = createRunner(spec, healthy.h.deps);
      await runner.start();
      await healthy.h.advance(spec.health.intervalMs);
      const before = healthy.probes();
      await healthy.h.advance(spec.health.intervalMs * spec.health.failureThreshold * 3);
      assert.deepEqual(healthy.pings, [spec.health.timeoutMs, spec.health.timeoutMs, spec.health.timeoutMs], 'one ping per failureThreshold intervals, bounded by the health timeout');
      assert.equal(healthy.probes(), before, 'an answering holder: fleetd still probes nothing');
      await runner.stop();

      const stuck = watching({ stuck: true });
      const other = createRunner(spec, stuck.h.deps);
      await other.start();
      await stuck.h.advance(spec.health.intervalMs);
      assert.equal(stuck.asked.length, 1);
      const quiet = stuck.probes();
      await stuck.h.advance(spec.health.intervalMs * spec.health.failureThreshold);
      assert.equal(stuck.pings.length, 1);
      assert.ok(stuck.probes() > quiet, 'a holder that does not answer: fleetd probes the gateway itself');
      assert.equal(stuck.unwatched(), 1, 'and ends the watch');
      assert.ok(stuck.h.logger.lines.some((l) => l.level === 'warn' && /did not answer: fleetd probes the gateway/.test(l.msg ?? '')));
      await other.stop();
    });

    test('a holder that will not watch (an older shim): asked once, then fleetd probes every interval for the rest of the run', async () => {
      const w = watching({ refuse: true });
      const runner = createRunner(spec, w.h.deps);
      await runner.start();
      await w.h.advance(spec.health.intervalMs);
      const before = w.probes();
      await w.h.advance(spec.health.intervalMs * 5);
      assert.equal(w.probes(), before + 5);
      assert.equal(w.asked.length, 1);
      assert.ok(w.h.logger.lines.some((l) => l.level === 'warn' && /does not watch its readiness/.test(l.msg ?? '')));
      await runner.stop();
    });

    test('a reload that changes the health timings: fleetd probes again and hands over with the new ones', async () => {
      const w = watching();
      const runner = createRunner(spec, w.h.deps);
      await runner.start();
      await w.h.advance(spec.health.intervalMs);
      assert.equal(w.asked.length, 1);
      runner.updateSpec({ ...spec, restart: { ...spec.restart, initialDelayMs: 5 } });
      await w.h.advance(0);
      assert.equal(w.asked.length, 1, 'other changes leave the watch alone');
      const faster = { ...spec, health: { ...spec.health, intervalMs: 500 } };
      runner.updateSpec(faster);
      await w.h.advance(0);
      assert.equal(w.unwatched(), 1);
      assert.deepEqual(w.asked.at(-1)?.options, { port: spec.port, path: '/readyz', intervalMs: 500, timeoutMs: spec.health.timeoutMs });
      await runner.stop();
    });

    test('while the shim watches a gateway without cgroup, its descendants are still tracked every interval', async () => {
      const w = watching();
      const runner = createRunner(spec, w.h.deps);
      await runner.start();
      await w.h.advance(spec.health.intervalMs);
      const pid = w.h.procs[0]!.pid!;
      const before = w.tracked.length;
      await w.h.advance(spec.health.intervalMs * 4);
      assert.deepEqual(w.tracked.slice(before), [pid, pid, pid, pid]);
      await runner.stop();
    });

    test('watched agents share one timer per period (the watch wheel): each is pinged every failureThreshold intervals, their pings in one turn; a stop leaves no timer behind', async () => {
      const w = watching();
      const wheel = createWatchWheel({ setTimer: w.h.deps.setTimer!, clearTimer: w.h.deps.clearTimer! });
      w.h.deps.watchWheel = wheel;
      const first = createRunner(spec, w.h.deps);
      const second = createRunner({ ...spec, address: 'f/b', port: 20100 }, w.h.deps);
      await first.start();
      await w.h.advance(spec.health.intervalMs / 2);
      await second.start();
      await w.h.advance(spec.health.intervalMs);
      assert.equal(w.asked.length, 2, 'both handed over (by their start verdicts), half an interval apart');
      assert.equal(wheel.armed(), 1, 'one timer for both');
      assert.equal(w.h.pending(), 1, 'and no other');
      const [a, b] = w.h.procs.map((p) => p.pid);
      await w.h.advance(spec.health.intervalMs * spec.health.failureThreshold);
      assert.deepEqual(w.pinged, [a, b], 'each pinged within failureThreshold intervals of its handover, in the same turn');
      await w.h.advance(spec.health.intervalMs * spec.health.failureThreshold * 2);
      assert.deepEqual(w.pinged, [a, b, a, b, a, b], 'then once per failureThreshold intervals each');
      assert.equal(w.probes(), 2, 'their start verdicts only (which found them ready)');

      await first.stop();
      assert.equal(wheel.armed(), 1, 'the other still has its turns');
      await w.h.advance(spec.health.intervalMs * spec.health.failureThreshold);
      assert.deepEqual(w.pinged.slice(6), [b], 'a stopped agent is never pinged again');
      await second.stop();
      assert.equal(wheel.armed(), 0, 'no watched agent: no timer of the wheel');
      assert.equal(w.h.pending(), 0, 'no timer at all');
    });

    test('a reload that changes only failureThreshold: the watch stays, its pings follow the new threshold from the reload on', async () => {
      const w = watching();
      const runner = createRunner(spec, w.h.deps);
      await runner.start();
      await w.h.advance(0);
      assert.equal(w.asked.length, 1);
      await w.h.advance(spec.health.intervalMs);
      const fewer = { ...spec, health: { ...spec.health, failureThreshold: 2 } };
      runner.updateSpec(fewer);
      await w.h.advance(fewer.health.intervalMs * 2 * 3);
      assert.equal(w.pings.length, 3, 'one ping per 2 intervals from the reload');
      assert.equal(w.asked.length, 1, 'the shim watches on: its interval and timeout did not change');
      assert.equal(w.unwatched(), 0);
      await runner.stop();
    });

    test('with a cgroup (no descendants to track) a watched agent wakes fleetd only for its pings, every failureThreshold intervals; a stuck holder is still a miss', async () => {
      const w = watching({ stuck: true });
      const joined: number[] = [];
      const wheel = createWatchWheel({ setTimer: w.h.deps.setTimer!, clearTimer: w.h.deps.clearTimer! });
      w.h.deps.watchWheel = { join: (periodMs, fn) => (joined.push(periodMs), wheel.join(periodMs, fn)), armed: () => wheel.armed() };
      let members: number[] = [];
      // the members of a fake cgroup: the fake gateway, ended by a signal to them
      const signal = async () => {
        const reached = members;
        members = [];
        for (const p of w.h.procs) p.end({ code: null, signal: 'SIGTERM' });
        return reached;
      };
      const none = () => ({ oomKills: 0, limitHits: 0 });
      const cgroup = { name: 'f@a', pids: () => members, memberPids: () => members, isEmpty: () => members.length === 0, signal, killAll: signal, oomBaseline: none, oomCounters: none } as unknown as AgentCgroup;
      const spawn = w.h.deps.spawn!;
      w.h.deps.spawn = async (launch, io) => {
        const proc = await spawn(launch, io);
        members = [proc.pid!];
        return proc;
      };
      const runner = createRunner({ ...spec, isolation: { cgroup } }, w.h.deps);
      await runner.start();
      await w.h.advance(0);
      assert.equal(w.asked.length, 1, 'the start verdict found it ready: handed over now');
      assert.deepEqual(joined, [spec.health.intervalMs * spec.health.failureThreshold], 'one turn per failureThreshold intervals');
      const quiet = w.probes();
      w.setReady(false); // once fleetd probes again, it keeps probing (no new handover)
      await w.h.advance(spec.health.intervalMs * spec.health.failureThreshold - 1);
      assert.equal(w.pings.length, 0, 'no turn between two pings');
      await w.h.advance(1);
      assert.equal(w.pings.length, 1, 'pinged within failureThreshold intervals');
      assert.deepEqual(w.tracked, [], 'nothing to track: the cgroup holds the agent');
      assert.ok(w.probes() > quiet, 'a holder that does not answer: fleetd probes the gateway itself');
      assert.equal(w.unwatched(), 1, 'and ends the watch');
      assert.equal(wheel.armed(), 0, 'and leaves the wheel');
      await runner.stop();
    });
  });
});
