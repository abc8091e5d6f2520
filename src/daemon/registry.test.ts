import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FleetError } from '../errors.js';
import type { RegistryEntry } from '../plan/types.js';
import { openRegistry, parseRegistry } from './registry.js';
import { withTempDir } from '../util/temp-dir.js';


function entry(fleet: string, agent: string, block: number, over: Partial<RegistryEntry> = {}): RegistryEntry {
  return { fleet, agent, source: 'manifest', block, port: 20000 + block * 100, token: block.toString(16).padStart(64, '0'), desired: 'running', createdAt: '2026-01-01T00:00:00.000Z', ...over };
}

function isInvalid(pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof FleetError, String(err));
    assert.equal(err.code, 'REGISTRY_INVALID');
    assert.match(err.message, pattern);
    return true;
  };
}

test('missing file reads as an empty registry; update round-trips, 0600', async () => {
  await withTempDir(async (dir) => {
    const stateDir = join(dir, 'state');
    const registry = openRegistry(stateDir);
    assert.deepEqual(await registry.read(), { version: 1, agents: {} });
    const full = entry('acme', 'korax', 0, {
      source: 'cli',
      spec: { config: { a: { b: [1] } }, env: { X: '1' } },
      process: { pid: 123, pgid: 123, startTime: '98765', spawnedAt: '2026-01-01T00:00:01.000Z' },
      appliedHash: 'abc.def.ghi',
      desired: 'stopped',
    });
    const stored = await registry.update((reg) => {
      reg.agents['acme/korax'] = full;
    });
    assert.deepEqual(stored.agents['acme/korax'], full);
    assert.deepEqual(await openRegistry(stateDir).read(), { version: 1, agents: { 'acme/korax': full } });
    assert.equal((await stat(registry.path)).mode & 0o777, 0o600);
    assert.equal((await stat(stateDir)).mode & 0o777, 0o700);
    assert.deepEqual(JSON.parse(await readFile(registry.path, 'utf8')), { version: 1, agents: { 'acme/korax': full } });
  });
});

test('a corrupt registry is REGISTRY_INVALID and is never overwritten', async () => {
  await withTempDir(async (dir) => {
    const registry = openRegistry(dir);
    const garbage = '{"version": 1, "agents": {"acme/korax": {"fleet": "acme"'; // truncated
    await writeFile(registry.path, garbage, { mode: 0o600 });
    const message = new RegExp(`${registry.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is invalid: not valid JSON.*never overwrites.*move it away`);
    await assert.rejects(registry.read(), isInvalid(message));
    await assert.rejects(registry.update((reg) => void (reg.agents['acme/new'] = entry('acme', 'new', 0))), isInvalid(/not valid JSON/));
    assert.equal(await readFile(registry.path, 'utf8'), garbage);
  });
});

test('after its own write, a file changed by someone else is validated again: a valid change is kept, an invalid one refused and left', async () => {
  await withTempDir(async (dir) => {
    const registry = openRegistry(dir);
    await registry.update((reg) => void (reg.agents['acme/a'] = entry('acme', 'a', 0)));
    // a no-op update writes nothing (same text)
    const written = await readFile(registry.path, 'utf8');
    const before = (await stat(registry.path)).mtimeMs;
    await registry.update(() => undefined);
    assert.equal(await readFile(registry.path, 'utf8'), written);
    assert.equal((await stat(registry.path)).mtimeMs, before);
    // another process adds an entry (in another layout): the next update keeps it
    await writeFile(registry.path, JSON.stringify({ version: 1, agents: { 'acme/a': entry('acme', 'a', 0), 'acme/b': entry('acme', 'b', 1) } }), { mode: 0o600 });
    await registry.update((reg) => void (reg.agents['acme/c'] = entry('acme', 'c', 2)));
    assert.deepEqual(Object.keys((await registry.read()).agents).sort(), ['acme/a', 'acme/b', 'acme/c']);
    // then it leaves the file with a bad token (valid JSON): refused, never overwritten
    const bad = JSON.stringify({ version: 1, agents: { 'acme/a': entry('acme', 'a', 0, { token: 'short' }) } });
    await writeFile(registry.path, bad, { mode: 0o600 });
    await assert.rejects(registry.update((reg) => void (reg.agents['acme/d'] = entry('acme', 'd', 3))), isInvalid(/token/));
    assert.equal(await readFile(registry.path, 'utf8'), bad);
  });
});

test('replace writes the agents it is given over the file; a file someone else left invalid is refused and left, one left valid is replaced', async () => {
  await withTempDir(async (dir) => {
    const registry = openRegistry(dir);
    const a = entry('acme', 'a', 0);
    await registry.replace({ 'acme/a': a });
    assert.deepEqual(JSON.parse(await readFile(registry.path, 'utf8')), { version: 1, agents: { 'acme/a': a } });
    assert.equal((await stat(registry.path)).mode & 0o777, 0o600);
    // its own last write: replaced without a second look
    const b = entry('acme', 'b', 1);
    await registry.replace({ 'acme/a': a, 'acme/b': b });
    assert.deepEqual(await openRegistry(dir).read(), { version: 1, agents: { 'acme/a': a, 'acme/b': b } });
    // the same agents again: the text is the same, the file is not written
    const before = (await stat(registry.path)).mtimeMs;
    await registry.replace({ 'acme/a': a, 'acme/b': b });
    assert.equal((await stat(registry.path)).mtimeMs, before);
    // someone else leaves it invalid (valid JSON, a bad token): refused, never overwritten
    const bad = JSON.stringify({ version: 1, agents: { 'acme/a': entry('acme', 'a', 0, { token: 'short' }) } });
    await writeFile(registry.path, bad, { mode: 0o600 });
    await assert.rejects(registry.replace({ 'acme/a': a }), isInvalid(/token/));
    assert.equal(await readFile(registry.path, 'utf8'), bad);
    // or truncated: the same
    await writeFile(registry.path, '{"version": 1, "agents": {', { mode: 0o600 });
    await assert.rejects(registry.replace({ 'acme/a': a }), isInvalid(/not valid JSON/));
    // someone else leaves it valid: the caller's agents win (the daemon's memory is the truth while it runs)
    await writeFile(registry.path, JSON.stringify({ version: 1, agents: { 'acme/b': b } }), { mode: 0o600 });
    await registry.replace({ 'acme/a': a });
    assert.deepEqual(await registry.read(), { version: 1, agents: { 'acme/a': a } });
  });
});

test('a registry of the wrong shape names the offending field', async () => {
  await withTempDir(async (dir) => {
    const registry = openRegistry(dir);
    const cases: Array<[unknown, RegExp]> = [
      [[], /expected a JSON object/],
      [{ agents: {} }, /version: expected a positive integer, got undefined/],
      [{ version: 1, agents: { 'acme/korax': { ...entry('acme', 'korax', 0), token: 'short' } } }, /agents\["acme\/korax"\]\.token: expected 64 hex characters/],
      [{ version: 1, agents: { 'acme/other': entry('acme', 'korax', 0) } }, /agents\["acme\/other"\]: key must be "acme\/korax"/],
      [{ version: 1, agents: { 'a/x': entry('a', 'x', 3), 'a/y': entry('a', 'y', 3) } }, /agents\["a\/y"\]\.block: block 3 is also held by a\/x/],
      [{ version: 1, agents: {}, extra: true }, /extra/],
    ];
    for (const [value, pattern] of cases) {
      const text = JSON.stringify(value);
      await writeFile(registry.path, text);
      await assert.rejects(registry.update(() => {}), isInvalid(pattern));
      assert.equal(await readFile(registry.path, 'utf8'), text);
    }
  });
});

test('a registry from a newer fleetd asks for an upgrade and stays untouched', async () => {
  await withTempDir(async (dir) => {
    const registry = openRegistry(dir);
    const text = JSON.stringify({ version: 2, agents: {}, somethingNew: [] });
    await writeFile(registry.path, text);
    await assert.rejects(registry.update(() => {}), isInvalid(/format version 2, written by a newer fleetd.*Upgrade fleetd/));
    assert.equal(await readFile(registry.path, 'utf8'), text);
    assert.throws(() => parseRegistry(text, 'x.json'), { code: 'REGISTRY_INVALID' });
  });
});

test('a failing or invalid mutation writes nothing', async () => {
  await withTempDir(async (dir) => {
    const registry = openRegistry(dir);
    await registry.update((reg) => void (reg.agents['a/x'] = entry('a', 'x', 0)));
    const before = await readFile(registry.path, 'utf8');
    await assert.rejects(
      registry.update((reg) => {
        reg.agents['a/y'] = entry('a', 'y', 1);
        throw new Error('boom');
      }),
      /boom/,
    );
    await assert.rejects(registry.update((reg) => void (reg.agents['a/y'] = entry('a', 'y', 0))), { code: 'INTERNAL' });
    assert.equal(await readFile(registry.path, 'utf8'), before);
    // the queue keeps working after failures
    await registry.update((reg) => void (reg.agents['a/z'] = entry('a', 'z', 2)));
    assert.deepEqual(Object.keys((await registry.read()).agents).sort(), ['a/x', 'a/z']);
  });
});

test('concurrent updates from one process lose nothing', async () => {
  await withTempDir(async (dir) => {
    // separate handles, so they contend on the file lock and not only on the in-process queue
    const handles = [openRegistry(dir), openRegistry(dir), openRegistry(dir)];
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        handles[i % handles.length]!.update(async (reg) => {
          await new Promise((resolve) => setImmediate(resolve));
          reg.agents[`f/a${i}`] = entry('f', `a${i}`, i);
        }),
      ),
    );
    const agents = (await openRegistry(dir).read()).agents;
    assert.equal(Object.keys(agents).length, 30);
  });
});

test('concurrent updates from two processes lose nothing', async () => {
  await withTempDir(async (dir) => {
    const registryUrl = new URL('./registry.js', import.meta.url).href;
    const perChild = 25;
    const script = `
      import { openRegistry } from ${JSON.stringify(registryUrl)};
      const [stateDir, id] = process.argv.slice(1);
      const registry = openRegistry(stateDir);
      for (let i = 0; i < ${perChild}; i++) {
        const block = Number(id) * 1000 + i;
        await registry.update((reg) => {
          reg.agents['p' + id + '/a' + i] = { fleet: 'p' + id, agent: 'a' + i, source: 'manifest', block, port: 20000 + block,
            token: block.toString(16).padStart(64, '0'), desired: 'running', createdAt: new Date().toISOString() };
        });
      }
    `;
    const run = (id: number) =>
      new Promise<void>((resolve, reject) => {
        const child = spawn(process.execPath, ['--input-type=module', '-e', script, dir, String(id)], { stdio: ['ignore', 'inherit', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (chunk) => (stderr += chunk));
        child.on('error', reject);
        child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`child ${id} exited ${code}: ${stderr}`))));
      });
    await Promise.all([run(1), run(2)]);
    const agents = (await openRegistry(dir).read()).agents;
    assert.equal(Object.keys(agents).length, 2 * perChild);
    assert.ok(fileURLToPath(registryUrl).endsWith('registry.js'));
  });
});

test('a stale lock left by a dead process is taken over', async () => {
  await withTempDir(async (dir) => {
    const registry = openRegistry(dir, { staleMs: 2000, retries: { retries: 5, minTimeout: 10, maxTimeout: 50 } });
    const lockDir = `${registry.path}.lock`;
    await mkdir(lockDir);
    const old = new Date(Date.now() - 60_000);
    await utimes(lockDir, old, old);
    await registry.update((reg) => void (reg.agents['a/x'] = entry('a', 'x', 0)));
    assert.deepEqual(Object.keys((await registry.read()).agents), ['a/x']);
  });
});

test('a fresh lock held elsewhere makes update fail after its retries, writing nothing', async () => {
  await withTempDir(async (dir) => {
    const registry = openRegistry(dir, { staleMs: 60_000, retries: { retries: 2, minTimeout: 10, maxTimeout: 20 } });
    await mkdir(`${registry.path}.lock`);
    await assert.rejects(registry.update((reg) => void (reg.agents['a/x'] = entry('a', 'x', 0))), { code: 'TIMEOUT' });
    await assert.rejects(stat(registry.path), { code: 'ENOENT' });
  });
});

test('under umask 000 the registry lock folder (and the state dir it makes) is 0700', async () => {
  await withTempDir(async (dir) => {
    const registry = openRegistry(join(dir, 'state'));
    const previous = process.umask(0);
    let lockMode = -1;
    try {
      await registry.update(async () => {
        lockMode = (await stat(`${registry.path}.lock`)).mode & 0o777;
      });
    } finally {
      process.umask(previous);
    }
    assert.equal(lockMode, 0o700, 'the lock folder proper-lockfile makes');
    assert.equal((await stat(join(dir, 'state'))).mode & 0o777, 0o700);
  });
});
