// The daemon's registry store on real files: changes take effect in memory at once, go to
// disk in coalesced writes, and a write the disk refuses (a full filesystem: a real tmpfs
// filled to the brim) is kept in memory, reported by behind(), and written once there is
// room again. Needs root for the tmpfs; skipped (and says so) otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RegistryEntry } from '../plan/types.js';
import { waitFor } from '../util/wait-for.js';
import { openRegistry, type Registry } from './registry.js';
import { createRegistryStore } from './registry-store.js';

const entry = (agent: string, block: number): RegistryEntry => ({
  fleet: 'acme',
  agent,
  source: 'manifest',
  block,
  port: 20000 + block * 100,
  token: `${block}`.padStart(64, 'a').replace(/[^0-9a-f]/g, 'a'),
  desired: 'running',
  createdAt: '2026-12-01T00:00:00.000Z',
});

/** A Registry that counts the writes it is asked for (the file work is the real one). */
function counting(registry: Registry): { registry: Registry; writes: () => number } {
  let writes = 0;
  return {
    registry: { path: registry.path, read: () => registry.read(), update: (m) => ((writes += 1), registry.update(m)), replace: (agents) => ((writes += 1), registry.replace(agents)) },
    writes: () => writes,
  };
}

test('changes are visible at once and reach the disk in coalesced writes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fleetd-store-'));
  try {
    const { registry, writes } = counting(openRegistry(dir));
    const store = createRegistryStore(registry);
    await store.load();
    for (let i = 0; i < 50; i++) store.record((r) => void (r.agents[`acme/a${i}`] = entry(`a${i}`, i)));
    assert.equal(Object.keys(store.current().agents).length, 50, 'in memory at once');
    await store.flush();
    assert.ok(writes() >= 1 && writes() <= 3, `50 changes took ${writes()} writes`);
    const onDisk = JSON.parse(await readFile(join(dir, 'registry.json'), 'utf8'));
    assert.equal(Object.keys(onDisk.agents).length, 50);
    assert.throws(() => store.record((r) => void (r.agents['acme/a0']!.port = -1)), { code: 'INTERNAL' }, 'an invalid change is refused');
    assert.equal(store.entry('acme/a0')?.port, 20000, 'and changes nothing');
    store.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

// A process record nobody waits for (a gateway's exit, a new pid) must still reach the disk
// as soon as the write before it is over: a fleetd killed while such a record waited (a 100 ms
// spacing, tried and reverted) left a dead gateway's pid in registry.json, and its successor
// stopped the healthy new gateway instead of adopting it (an operator's 6 trials of 8).
test('a record nobody waits for is written once the write before it is over, not after a timer', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fleetd-store-'));
  try {
    const { registry, writes } = counting(openRegistry(dir));
    // timers that never fire: only the retry after a refused write may use one
    const store = createRegistryStore(registry, { setTimer: () => ({}), clearTimer: () => {} });
    await store.load();
    await store.update((r) => void (r.agents['acme/a0'] = entry('a0', 0)));
    store.record((r) => void (r.agents['acme/a0']!.process = { pid: 7, pgid: 7, startTime: '1', spawnedAt: '2026-12-01T00:00:00.000Z' }));
    store.record((r) => void (r.agents['acme/a1'] = entry('a1', 1)));
    const onDisk = await waitFor(
      async () => {
        const file = JSON.parse(await readFile(join(dir, 'registry.json'), 'utf8')) as { agents: Record<string, RegistryEntry> };
        return file.agents['acme/a1'] && file.agents['acme/a0']?.process ? file : undefined;
      },
      { timeoutMs: 10_000, what: 'the records on disk without any timer' },
    );
    assert.equal(onDisk.agents['acme/a0']?.process?.pid, 7);
    assert.ok(writes() >= 1 && writes() <= 3, `${writes()} writes`);
    store.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('secrets(): every token, the same array until a change touches a token', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fleetd-store-'));
  try {
    const store = createRegistryStore(openRegistry(dir));
    await store.load();
    store.record((r) => {
      r.agents['acme/a0'] = entry('a0', 0);
      r.agents['acme/a1'] = entry('a1', 1);
    });
    const first = store.secrets();
    assert.deepEqual([...first].sort(), [entry('a0', 0).token, entry('a1', 1).token].sort());
    store.record((r) => void (r.agents['acme/a0']!.process = { pid: 7, pgid: 7, startTime: '1', spawnedAt: '2026-12-01T00:00:00.000Z' }));
    store.record((r) => void (r.agents['acme/a1']!.desired = 'stopped'));
    assert.equal(store.secrets(), first, 'no token touched: the same list');
    const hooks = 'c'.repeat(64);
    store.record((r) => void (r.agents['acme/a1']!.hooksToken = hooks));
    assert.deepEqual([...store.secrets()].sort(), [entry('a0', 0).token, entry('a1', 1).token, hooks].sort());
    store.record((r) => void delete r.agents['acme/a0']);
    assert.deepEqual([...store.secrets()].sort(), [entry('a1', 1).token, hooks].sort());
    store.record((r) => void (r.agents = { 'acme/b': entry('b', 2) }));
    assert.deepEqual(store.secrets(), [entry('b', 2).token], 'agents replaced whole');
    await store.flush();
    store.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('current() is a snapshot: changes after it do not show in it, and the disk gets every change', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fleetd-store-'));
  try {
    const store = createRegistryStore(openRegistry(dir));
    await store.load();
    store.record((r) => void (r.agents['acme/a0'] = entry('a0', 0)));
    store.record((r) => void (r.agents['acme/a1'] = entry('a1', 1))); // in place: nobody holds the copy
    const held = store.current();
    const heldA0 = held.agents['acme/a0'];
    store.record((r) => void (r.agents['acme/a0']!.desired = 'stopped'));
    store.record((r) => void (r.agents['acme/a2'] = entry('a2', 2)));
    store.record((r) => void delete r.agents['acme/a1']);
    assert.deepEqual(Object.keys(held.agents), ['acme/a0', 'acme/a1'], 'the holder keeps the agents it got');
    assert.equal(held.agents['acme/a0'], heldA0);
    assert.equal(heldA0!.desired, 'running', 'and their entries as they were');
    assert.deepEqual(Object.keys(store.current().agents), ['acme/a0', 'acme/a2']);
    assert.equal(store.entry('acme/a0')!.desired, 'stopped');
    await store.flush();
    const onDisk = JSON.parse(await readFile(join(dir, 'registry.json'), 'utf8')) as { agents: Record<string, RegistryEntry> };
    assert.deepEqual(Object.keys(onDisk.agents).sort(), ['acme/a0', 'acme/a2']);
    assert.equal(onDisk.agents['acme/a0']!.desired, 'stopped');
    store.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a write refused by a full disk is kept, reported as behind, and written once there is room', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root to mount a tmpfs');
  const dir = await mkdtemp(join(tmpdir(), 'fleetd-full-'));
  let mounted = false;
  // The store's retry timer is unref'd (a daemon's socket keeps it alive); here nothing else would.
  const keepAlive = setInterval(() => {}, 1000);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', dir]);
    mounted = true;
    const store = createRegistryStore(openRegistry(dir), { retryMs: { first: 20, max: 100 } });
    await store.load();
    await store.update((r) => void (r.agents['acme/a'] = entry('a', 0)));
    // fill the filesystem to the last byte
    const filler = join(dir, 'filler');
    let size = 256 * 1024;
    for (;;) {
      try {
        await writeFile(filler, Buffer.alloc(size));
        break;
      } catch {
        size -= 4096;
      }
    }
    for (let i = 0; i < 40 && size > 0; i++) await writeFile(join(dir, `f${i}`), Buffer.alloc(4096)).catch(() => undefined);
    store.record((r) => void (r.agents['acme/a']!.process = { pid: 4242, pgid: 4242, startTime: '1', spawnedAt: '2026-12-01T00:00:00.000Z' }));
    await waitFor(() => store.behind() !== null, { timeoutMs: 5000, what: 'the store to say it is behind' });
    assert.match(store.behind()!.error, /ENOSPC|no space/i);
    assert.equal(store.entry('acme/a')?.process?.pid, 4242, 'the change is kept in memory');
    await assert.rejects(store.update((r) => void (r.agents['acme/a']!.desired = 'stopped')), { code: 'REGISTRY_WRITE_FAILED' });
    await rm(filler);
    for (let i = 0; i < 40; i++) await rm(join(dir, `f${i}`), { force: true });
    await waitFor(() => store.behind() === null, { timeoutMs: 5000, what: 'the retry to catch up' });
    const onDisk = JSON.parse(await readFile(join(dir, 'registry.json'), 'utf8'));
    assert.equal(onDisk.agents['acme/a'].process.pid, 4242, 'the process record reached the disk');
    assert.equal(onDisk.agents['acme/a'].desired, 'stopped');
    store.close();
  } finally {
    clearInterval(keepAlive);
    if (mounted) execFileSync('umount', [dir]);
    await rm(dir, { recursive: true, force: true });
  }
});
