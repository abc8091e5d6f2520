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

test('start pool admits at most `limit` jobs and admits more when resized', async () => {
  const pool = createStartPool(2);
  let active = 0;
  let peak = 0;
  const gates = [deferred(), deferred(), deferred(), deferred()];
  const started: number[] = [];
  const jobs = gates.map((g, i) =>
    pool.run(async () => {
      started.push(i);
      active += 1;
      peak = Math.max(peak, active);
      await g.promise;
      active -= 1;
    }),
  );
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(started, [0, 1]);
  gates[0]!.resolve();
  await jobs[0];
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(started, [0, 1, 2]);
  pool.resize(3);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(started, [0, 1, 2, 3]);
  for (const g of gates) g.resolve();
  await Promise.all(jobs);
  assert.equal(peak, 3);
});

test('acquire hands out slots like run, and a release is counted once', async () => {
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
