// The event bus: seq cursors, bounded backlog, follow streams that end on close or abort,
// and a slow follower told how much it missed.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FleetEvent } from '../protocol/events.js';
import { eventSchema } from '../protocol/events.js';
import { createEventBus } from './events.js';
import { observeRunner } from './agent-events.js';
import type { RunnerStatus } from '../supervise/types.js';

const reload = (n: number) => ({ type: 'fleet.reload' as const, applied: true, actions: [`a${n}`], error: null });

async function collect(it: AsyncIterable<FleetEvent>): Promise<FleetEvent[]> {
  const out: FleetEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
}

describe('event bus', () => {
  test('seq, time and a bounded ring; since and limit select the backlog; a cursor from another fleetd reads all', async () => {
    let t = 100;
    const bus = createEventBus({ capacity: 3, now: () => t++ });
    for (let i = 1; i <= 5; i++) bus.publish(reload(i));
    assert.equal(bus.lastSeq, 5);
    const all = await collect(bus.read());
    assert.deepEqual(all.map((e) => e.seq), [3, 4, 5], 'only the newest 3 are kept');
    assert.deepEqual(all.map((e) => e.at), [102, 103, 104]);
    for (const e of all) eventSchema.parse(e);
    assert.deepEqual((await collect(bus.read({ since: 3 }))).map((e) => e.seq), [4, 5]);
    assert.deepEqual((await collect(bus.read({ limit: 1 }))).map((e) => e.seq), [5]);
    assert.deepEqual((await collect(bus.read({ since: 5 }))).map((e) => e.seq), []);
    assert.deepEqual((await collect(bus.read({ since: 999 }))).map((e) => e.seq), [3, 4, 5], 'a cursor ahead of this numbering (fleetd restarted) reads everything');
    // a later fleetd numbers from its start time: every cursor of an earlier one is below its base
    const later = createEventBus({ seqBase: 5_000_000 });
    for (let i = 1; i <= 4; i++) later.publish(reload(i));
    assert.deepEqual((await collect(later.read({ since: 3 }))).map((e) => e.seq), [5_000_001, 5_000_002, 5_000_003, 5_000_004], 'a cursor of an earlier fleetd (below the base) reads everything, never skips the first new events');
    assert.deepEqual((await collect(later.read({ since: 5_000_002 }))).map((e) => e.seq), [5_000_003, 5_000_004]);
  });

  test('follow: backlog, then live events in order, until abort; close() ends every follower', async () => {
    const bus = createEventBus();
    bus.publish(reload(1));
    const ac = new AbortController();
    const got: number[] = [];
    const reader = (async () => {
      for await (const e of bus.read({ follow: true, signal: ac.signal })) {
        got.push(e.seq);
        if (got.length === 3) {
          ac.abort(); // the client went away (the HTTP server stops reading at once)
          break;
        }
      }
    })();
    bus.publish(reload(2));
    bus.publish(reload(3));
    bus.publish(reload(4));
    await reader;
    assert.deepEqual(got, [1, 2, 3]);
    const second = collect(bus.read({ follow: true, since: 4 }));
    bus.publish(reload(5));
    const closing = bus.close();
    assert.deepEqual((await second).map((e) => e.seq), [5]);
    await closing;
    assert.deepEqual((await collect(bus.read({ follow: true, since: 5 }))).map((e) => e.seq), [], 'after close a follow read ends at once');
  });

  test('a follower that does not read loses the oldest events and is told how many', async () => {
    const bus = createEventBus({ capacity: 10 });
    const ac = new AbortController();
    const it = bus.read({ follow: true, signal: ac.signal })[Symbol.asyncIterator]();
    for (let i = 0; i < 5003; i++) bus.publish(reload(i));
    const first = (await it.next()).value as FleetEvent;
    assert.equal(first.type, 'events.dropped');
    assert.equal(first.type === 'events.dropped' && first.count, 4, '5003 events, room for 5000 with the marker: 4 dropped');
    assert.equal(((await it.next()).value as FleetEvent).seq, 5, 'then the oldest kept one');
    ac.abort();
  });

  test('a throwing subscriber does not stop the others', () => {
    const bus = createEventBus();
    const seen: number[] = [];
    bus.subscribe(() => {
      throw new Error('broken');
    });
    bus.subscribe((e) => seen.push(e.seq));
    bus.publish(reload(1));
    assert.deepEqual(seen, [1]);
  });
});

describe('observeRunner', () => {
  /** A bus with observeRunner attached to a runner stopped with `initial`; emit() sends it a state. */
  const observed = (initial: Partial<RunnerStatus>) => {
    const bus = createEventBus();
    const listeners: Array<(s: RunnerStatus) => void> = [];
    const base: RunnerStatus = { address: 'acme/a', state: 'stopped', reason: 'not started', since: 0, pid: null, port: 1, spawnedAt: null, runningSince: null, restarts: 0, lastExit: null, health: { live: null, ready: null }, nextStartAt: null, ...initial };
    observeRunner({ status: () => base, on: (_e, l) => listeners.push(l) }, bus);
    return { bus, emit: (s: Partial<RunnerStatus>) => listeners.forEach((l) => l({ ...base, ...s })) };
  };

  test('state changes with reasons, the exit, the restart', () => {
    const { bus, emit } = observed({});
    emit({ state: 'starting', reason: 'spawned pid 10', pid: 10 });
    emit({ state: 'running', reason: 'healthy', pid: 10 });
    emit({ state: 'backoff', reason: 'killed by SIGKILL; restart 1 in 1 s', pid: null, lastExit: { code: null, signal: 'SIGKILL', at: 5, runtimeMs: 3000 } });
    emit({ state: 'starting', reason: 'restart 1 after backoff', pid: 11, restarts: 1, lastExit: { code: null, signal: 'SIGKILL', at: 5, runtimeMs: 3000 } });
    const events = bus.read();
    return collect(events).then((all) => {
      assert.deepEqual(
        all.map((e) => (e.type === 'agent.state' ? `state ${e.from}->${e.to}` : e.type === 'agent.exit' ? `exit pid ${e.pid} ${e.signal}` : e.type === 'agent.restart' ? `restart ${e.restarts}` : e.type)),
        ['state stopped->starting', 'state starting->running', 'exit pid 10 SIGKILL', 'state running->backoff', 'restart 1', 'state backoff->starting'],
      );
    });
  });

  test('an exit replayed from a previous fleetd names the pid its shim recorded (the runner never had it)', async () => {
    const { bus, emit } = observed({ reason: 'not started yet', restarts: 2 });
    emit({ state: 'starting', reason: 'the gateway ended killed by SIGKILL', lastExit: { code: null, signal: 'SIGKILL', at: 5, runtimeMs: 3000, pid: 4242 } });
    const exits = (await collect(bus.read())).filter((e) => e.type === 'agent.exit');
    assert.deepEqual(exits.map((e) => (e.type === 'agent.exit' ? e.pid : undefined)), [4242]);
  });

  test('a launch that failed before its gateway had a pid names no pid, not the previous run\'s', async () => {
    const { bus, emit } = observed({});
    emit({ state: 'starting', reason: 'spawned pid 10', pid: 10 });
    emit({ state: 'running', reason: 'healthy', pid: 10 });
    emit({ state: 'stopped', reason: 'stopped by the operator', pid: null, lastExit: { code: 0, signal: null, at: 5, runtimeMs: 3000 } });
    emit({ state: 'starting', reason: 'waiting for a start slot', pid: null, lastExit: { code: 0, signal: null, at: 5, runtimeMs: 3000 } });
    emit({ state: 'backoff', reason: 'could not start: ...', pid: null, lastExit: { code: null, signal: null, at: 9, runtimeMs: 15000, pid: null } });
    const exits = (await collect(bus.read())).filter((e) => e.type === 'agent.exit');
    assert.deepEqual(exits.map((e) => (e.type === 'agent.exit' ? e.pid : undefined)), [10, null]);
  });

  test('an adoption (stopped -> running with the previous fleetd\'s count) is no restart', async () => {
    const { bus, emit } = observed({ reason: 'not started yet', restarts: 0 });
    emit({ state: 'running', reason: 'adopted from a previous fleetd', pid: 10, restarts: 4 });
    emit({ state: 'backoff', reason: 'exited', pid: null, restarts: 4, lastExit: { code: 1, signal: null, at: 5, runtimeMs: 3000 } });
    emit({ state: 'starting', reason: 'restart 5', pid: 11, restarts: 5, lastExit: { code: 1, signal: null, at: 5, runtimeMs: 3000 } });
    const all = await collect(bus.read());
    assert.deepEqual(
      all.filter((e) => e.type === 'agent.restart').map((e) => (e.type === 'agent.restart' ? e.restarts : 0)),
      [5],
      'only the restart after the adoption',
    );
  });
});
