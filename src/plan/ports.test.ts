import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blockCount, blockFits, candidateBlocks, lastPortOfBlock, portOfBlock, takenBlocks } from './ports.js';

const ports = { base: 20000, blockSize: 100, max: 65000 };

test('block i starts at base + i*blockSize', () => {
  assert.equal(portOfBlock(0, ports), 20000);
  assert.equal(portOfBlock(3, ports), 20300);
  assert.equal(lastPortOfBlock(3, ports), 20399);
});

test('a block fits only when its last port is at or below max', () => {
  const small = { base: 20000, blockSize: 100, max: 20199 };
  assert.equal(blockCount(small), 2);
  assert.equal(blockFits(1, small), true);
  assert.equal(blockFits(2, small), false);
  assert.equal(blockCount({ base: 20000, blockSize: 100, max: 20198 }), 1);
  assert.equal(blockCount({ base: 20000, blockSize: 100, max: 20000 }), 0);
  assert.equal(blockCount(ports), 450);
  assert.equal(blockFits(-1, ports), false);
});

test('candidates are the free blocks, lowest first', () => {
  const first = [...take(candidateBlocks(new Set([0, 1, 3]), ports), 3)];
  assert.deepEqual(first, [2, 4, 5]);
  const small = { base: 20000, blockSize: 100, max: 20399 };
  assert.deepEqual([...candidateBlocks(new Set([1]), small)], [0, 2, 3]);
  assert.deepEqual([...candidateBlocks(new Set([0, 1, 2, 3]), small)], []);
});

test('takenBlocks collects registry blocks', () => {
  assert.deepEqual([...takenBlocks([{ block: 4 }, { block: 0 }])].sort(), [0, 4]);
});

function* take<T>(iter: Iterable<T>, n: number): Generator<T> {
  if (n <= 0) return;
  for (const item of iter) {
    yield item;
    if (--n === 0) return;
  }
}
