import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPushStream } from './push-stream.js';

/** Reads everything a stream yields. */
async function drain<T>(s: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of s) out.push(item);
  return out;
}

test('items pushed before and while reading arrive in order; end() ends after the rest', async () => {
  const s = createPushStream<number>();
  s.push(1, 2);
  const reading = drain(s);
  await new Promise((r) => setImmediate(r));
  s.push(3);
  s.end();
  assert.deepEqual(await reading, [1, 2, 3]);
});

test('past the limit the oldest items are replaced by one overflow marker', async () => {
  const s = createPushStream<string>({ limit: 3, onOverflow: (n) => `dropped ${n}` });
  s.push('a', 'b', 'c', 'd', 'e');
  assert.equal(s.size, 3);
  s.end();
  assert.deepEqual(await drain(s), ['dropped 3', 'd', 'e']);
});

test('overflow one item at a time counts every dropped item in one marker', async () => {
  const s = createPushStream<string>({ limit: 3, onOverflow: (n) => `dropped ${n}` });
  for (const item of ['a', 'b', 'c', 'd', 'e', 'f']) s.push(item);
  assert.equal(s.size, 3);
  s.end();
  assert.deepEqual(await drain(s), ['dropped 4', 'e', 'f'], 'a, b, c, d are gone: 4, not 2');
});

test('an abort ends a waiting reader', async () => {
  const controller = new AbortController();
  const s = createPushStream<number>({ signal: controller.signal });
  const reading = drain(s);
  await new Promise((r) => setImmediate(r));
  controller.abort();
  assert.deepEqual(await reading, []);
});
