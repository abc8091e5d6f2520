import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from './wait-for.js';
import { SHIM_EXIT_POLL } from '../supervise/shim-handle.js';

/** Runs waitFor on a condition that turns true at its `trueAt`-th look; returns the pauses it asked for between looks (ms). */
async function pausesUntil(trueAt: number, options: { intervalMs?: number; firstIntervalMs?: number }): Promise<number[]> {
  const pauses: number[] = [];
  let looks = 0;
  await waitFor(() => ++looks >= trueAt, { timeoutMs: 60_000, ...options, sleep: async (ms) => void pauses.push(ms) });
  return pauses;
}

test('a condition true at the first look costs no pause', async () => {
  assert.deepEqual(await pausesUntil(1, { intervalMs: 20, firstIntervalMs: 1 }), []);
});

test('without firstIntervalMs every pause is the interval', async () => {
  assert.deepEqual(await pausesUntil(4, { intervalMs: 20 }), [20, 20, 20]);
});

test('with firstIntervalMs the pauses start there and double up to the interval', async () => {
  assert.deepEqual(await pausesUntil(8, { intervalMs: 20, firstIntervalMs: 1 }), [1, 2, 4, 8, 16, 20, 20]);
  assert.deepEqual(await pausesUntil(3, { intervalMs: 5, firstIntervalMs: 50 }), [5, 5], 'never longer than the interval');
});

test("a shim's exit is looked for again after 1 ms, not after the 20 ms interval (a restart's spawn waits for it)", async () => {
  assert.deepEqual(await pausesUntil(3, SHIM_EXIT_POLL), [1, 2]);
});
