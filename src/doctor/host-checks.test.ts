// Runtime and disk checks on real folders: an intact runtime, a damaged one, a half-made one,
// a pinned version not installed; one disk check per filesystem. The native parts: which shim,
// and the memory reclaim as fleetd runs it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatBytes } from '../cli/format.js';
import { checkDisk, checkMemoryReclaim, checkRuntimes, checkShim, checkVersions } from './host-checks.js';

const systemNode = { version: process.versions.node, path: process.execPath };

/** A runtime folder as fleetd's installer leaves it, running on fleetd's own Node. */
async function runtime(root: string, version: string, packageVersion = version): Promise<void> {
  const dir = join(root, `openclaw-${version}`);
  await mkdir(join(dir, 'node_modules', 'openclaw'), { recursive: true });
  await writeFile(join(dir, 'node_modules', 'openclaw', 'openclaw.mjs'), '');
  await writeFile(join(dir, 'node_modules', 'openclaw', 'package.json'), JSON.stringify({ version: packageVersion }));
  const marker = { schema: 1, version, nodeVersion: systemNode.version, nodeSource: 'system', node: systemNode.path, entry: 'node_modules/openclaw/openclaw.mjs', enginesNode: '>=18', platform: 'linux', arch: 'x64', installedAt: '2026-01-01T00:00:00.000Z' };
  await writeFile(join(dir, 'fleetd-runtime.json'), JSON.stringify(marker));
}

test('runtimes: intact, damaged, half-made, pinned but absent; each with its next step', async () => {
  const root = await mkdtemp(join(tmpdir(), 'fleetd-runtimes-'));
  try {
    await runtime(root, '2026.9.6');
    await runtime(root, '2026.9.5', '2026.9.4');
    await mkdir(join(root, 'openclaw-2026.9.7')); // no marker: an install that never finished
    const pinned = new Map([
      ['2026.9.6', ['acme/korax']],
      ['2026.9.7', ['acme/vesna']],
      ['2026.10.1', ['acme/new']],
    ]);
    const checks = await checkRuntimes(root, pinned, systemNode);
    const by = (v: string) => checks.find((c) => c.title === `runtime openclaw@${v}`)!;
    assert.equal(by('2026.9.6').level, 'ok');
    assert.match(by('2026.9.6').detail, /intact, on Node .*; used by acme\/korax/);
    assert.equal(by('2026.9.5').level, 'fail');
    assert.match(by('2026.9.5').detail, /node_modules\/openclaw is version 2026\.9\.4/);
    assert.equal(by('2026.9.5').next, 'fleetctl runtime remove 2026.9.5 && fleetctl runtime install 2026.9.5');
    assert.equal(by('2026.9.7').level, 'warn', 'pinned: listed even though listRuntimes skips half-made folders');
    assert.equal(by('2026.10.1').level, 'info');
    const one = await checkRuntimes(root, new Map([['2026.9.6', ['acme/korax']]]), systemNode, true);
    assert.deepEqual(one.map((c) => c.title), ['runtime openclaw@2026.9.6'], 'one agent: only its own version');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('disk: one check per filesystem, naming everything on it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fleetd-disk-'));
  try {
    await mkdir(join(dir, 'runtimes'));
    const checks = await checkDisk({ 'state dir': dir, runtimes: join(dir, 'runtimes'), missing: join(dir, 'nope') });
    assert.equal(checks.length, 1);
    assert.equal(checks[0]!.title, 'free disk (state dir, runtimes)');
    assert.match(checks[0]!.detail, /free of .* % of inodes free$/);
    assert.ok(['ok', 'warn', 'fail'].includes(checks[0]!.level));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('versions: Node against fleetd\'s engines', () => {
  assert.equal(checkVersions(process.versions.node).level, 'ok');
  const old = checkVersions('18.0.0');
  assert.equal(old.level, 'fail');
  assert.match(old.detail, /on Node 18\.0\.0 \(fleetd supports Node >=20\)/);
});

test('shim: the native one is ok, the Node fallback needs attention and says how to get the native one', () => {
  const native = checkShim({ kind: 'native', path: '/opt/fleetd/dist/shim/fleetd-shim' });
  assert.equal(native.level, 'ok');
  assert.equal(native.detail, 'native (/opt/fleetd/dist/shim/fleetd-shim)');
  const node = checkShim({ kind: 'node', path: '/opt/fleetd/dist/shim/main.js' });
  assert.equal(node.level, 'warn');
  assert.match(node.next ?? '', /C compiler .*npm run build/);
});

test("memory reclaim: what this fleetd runs, from its status view: on is ok with the last reclaim, off is info, unavailable needs attention with the reason and how to get it", () => {
  const now = 1_800_000_000_000;
  const on = checkMemoryReclaim({ state: 'on', reason: null, count: 3, last: { at: now - 90_000, cause: 'settled', rssBeforeBytes: 66.5 * 1048576, rssAfterBytes: 58.25 * 1048576, ms: 31.2, v8: true, v8Reduced: false, trimmed: true } }, '/opt/fleetd/dist/native/fleetd-memory.node', now);
  assert.equal(on.level, 'ok');
  assert.equal(on.title, 'memory reclaim');
  assert.equal(on.detail, `on (/opt/fleetd/dist/native/fleetd-memory.node): fleetd gives memory back once its fleet settles; 3 since it started; the last (settled) 1.5 min ago: RSS ${formatBytes(66.5 * 1048576)} -> ${formatBytes(58.25 * 1048576)}`);
  assert.equal(on.next, null);
  const none = checkMemoryReclaim({ state: 'on', reason: null, count: 0, last: null }, '/x.node', now);
  assert.equal(none.detail, 'on (/x.node): fleetd gives memory back once its fleet settles; 0 since it started');

  const off = checkMemoryReclaim({ state: 'off', reason: '--no-memory-reclaim', count: 0, last: null });
  assert.equal(off.level, 'info');
  assert.equal(off.detail, 'off (--no-memory-reclaim): fleetd gives memory back only as V8 decides');
  assert.match(off.next ?? '', /without --no-memory-reclaim/);

  const reason = '/opt/fleetd/dist/native/fleetd-memory.node is missing: not built (no C compiler at build time?)';
  const missing = checkMemoryReclaim({ state: 'unavailable', reason, count: 0, last: null });
  assert.equal(missing.level, 'warn');
  assert.equal(missing.detail, `unavailable: ${reason}; fleetd gives memory back only as V8 decides: RSS at 200 agents may stay ~8 MiB higher for minutes after a burst`);
  assert.match(missing.next ?? '', /`npm run build` again \(it needs a C compiler.*restart fleetd/);
  assert.equal(checkMemoryReclaim(undefined).level, 'warn', 'a fleetd that does not say');
});
