import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSerialQueue } from './serial-queue.js';
import { createStartPool } from './start-pool.js';

/** A promise with its resolve function, to drive jobs by hand. */
function deferred<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

test('serial queue runs jobs one at a time in arrival order, even when one fails', async () => {
  const q = createSerialQueue();
  const log: string[] = [];
  const gate = deferred();
  const a = q.run(async () => {
    log.push('a start');
    await gate.promise;
    log.push('a end');
    return 'a';
  });
  const b = q.run(async () => {
    log.push('b');
    throw new Error('b failed');
  });
  const c = q.run(async () => {
    log.push('c');
    return 'c';
  });
  await Promise.resolve();
  assert.deepEqual(log, ['a start']);
  gate.resolve();
  assert.equal(await a, 'a');
  await assert.rejects(b, /b failed/);
  assert.equal(await c, 'c');
  await q.idle();
  assert.deepEqual(log, ['a start', 'a end', 'b', 'c']);
});

test('start pool admits at most `limit` boots, in arrival order, and more when resized', async () => {
  const pool = createStartPool(2);
  const releases: Array<() => void> = [];
  const order: number[] = [];
  for (let i = 0; i < 4; i++) void pool.acquire().then((release) => (order.push(i), releases.push(release)));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, [0, 1]);
  assert.deepEqual(pool.load(), { active: 2, waiting: 2, limit: 2 });
  releases[0]!();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, [0, 1, 2]);
  pool.resize(3);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, [0, 1, 2, 3]);
  assert.deepEqual(pool.load(), { active: 3, waiting: 0, limit: 3 });
});

test('a cancelled wait leaves the queue at once and never takes a slot', async () => {
  const pool = createStartPool(1);
  const first = await pool.acquire();
  const abort = new AbortController();
  const cancelled = pool.acquire(abort.signal);
  let third = false;
  const pending3 = pool.acquire().then((release) => ((third = true), release));
  abort.abort();
  await assert.rejects(cancelled, { name: 'AbortError' });
  assert.deepEqual(pool.load(), { active: 1, waiting: 1, limit: 1 });
  first();
  const release3 = await pending3;
  assert.equal(third, true, 'the slot went to the next waiter, not to the cancelled one');
  release3();
  assert.deepEqual(pool.load(), { active: 0, waiting: 0, limit: 1 });
  await assert.rejects(pool.acquire(abort.signal), { name: 'AbortError' }, 'an already aborted signal is refused at once');
});

test('a release is counted once', async () => {
  const pool = createStartPool(1);
  const first = await pool.acquire();
  let second = false;
  const pending = pool.acquire().then((release) => {
    second = true;
    return release;
  });
  await new Promise((r) => setImmediate(r));
  assert.equal(second, false, 'the only slot is taken');
  first();
  first(); // a second call must not free a slot it does not hold
  const release2 = await pending;
  assert.equal(second, true);
  let third = false;
  const pending3 = pool.acquire().then(() => (third = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(third, false, 'the double release did not create a slot');
  release2();
  await pending3;
});
