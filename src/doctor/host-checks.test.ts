// Runtime and disk checks on real folders: an intact runtime, a damaged one, a half-made one,
// a pinned version not installed; one disk check per filesystem.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkDisk, checkRuntimes, checkShim, checkVersions } from './host-checks.js';

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
