import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildNpmEnv, createNpmRunner, isNpmNotFound, npmErrorCode, tailLines } from './npm.js';
import { FleetError } from '../errors.js';

describe('buildNpmEnv', () => {
  test('puts the node folder first on PATH and keeps only the allow-list', () => {
    const env = buildNpmEnv('/rt/node/bin', {
      PATH: '/usr/bin:/bin',
      HOME: '/home/fleet',
      LANG: 'C.UTF-8',
      https_proxy: 'http://proxy:3128',
      NPM_CONFIG_REGISTRY: 'https://registry.example',
      npm_config_cache: '/var/cache/npm',
      NODE_EXTRA_CA_CERTS: '/etc/ca.pem',
      OPENCLAW_STATE_DIR: '/x',
      OPENCLAW_CONFIG_PATH: '/y',
      NODE_OPTIONS: '--inspect',
      NODE_COMPILE_CACHE: '/z',
      INVOCATION_ID: 'abc',
      JOURNAL_STREAM: '1:2',
      npm_config_global: 'true',
      npm_lifecycle_event: 'test',
      SECRET_TOKEN: 's3cret',
    });
    assert.deepEqual(env, {
      PATH: '/rt/node/bin:/usr/bin:/bin',
      HOME: '/home/fleet',
      LANG: 'C.UTF-8',
      https_proxy: 'http://proxy:3128',
      NPM_CONFIG_REGISTRY: 'https://registry.example',
      npm_config_cache: '/var/cache/npm',
      NODE_EXTRA_CA_CERTS: '/etc/ca.pem',
      npm_config_update_notifier: 'false',
      npm_config_fund: 'false',
      npm_config_audit: 'false',
    });
  });

  test('falls back to a standard PATH and the account home', () => {
    const env = buildNpmEnv('/n', {});
    assert.equal(env.PATH, '/n:/usr/local/bin:/usr/bin:/bin');
    assert.ok(env.HOME && env.HOME.length > 0);
  });
});

describe('createNpmRunner', () => {
  test('returns stdout, passes argv, cwd and exactly the given env', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fleetd-'));
    try {
      const script = join(dir, 'npm');
      await writeFile(script, `#!${process.execPath}\nprocess.stdout.write(JSON.stringify({ args: process.argv.slice(2), cwd: process.cwd(), env: process.env }));\n`);
      await chmod(script, 0o755);
      const out = JSON.parse(await createNpmRunner(script)({ args: ['view', 'x', '--json'], cwd: dir, env: { PATH: '/usr/bin:/bin', ONLY: 'me' } }));
      assert.deepEqual(out.args, ['view', 'x', '--json']);
      assert.equal(out.cwd, dir);
      assert.equal(out.env.ONLY, 'me');
      assert.equal(out.env.HOME, undefined, 'nothing inherited from the test process');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a failure becomes RUNTIME_FAILED quoting the last lines of stderr', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fleetd-'));
    try {
      const script = join(dir, 'npm');
      await writeFile(script, `#!/bin/sh\nfor i in $(seq 1 30); do echo "npm warn line $i" >&2; done\necho "npm error code E404" >&2\necho "npm error 404 No match found for version 9.9.9" >&2\nexit 3\n`);
      await chmod(script, 0o755);
      const err = await createNpmRunner(script)({ args: ['view', 'openclaw@9.9.9'], cwd: dir, env: { PATH: '/usr/bin:/bin' } }).then(
        () => assert.fail('should fail'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof FleetError);
      assert.equal(err.code, 'RUNTIME_FAILED');
      assert.match(err.message, /^npm view openclaw@9\.9\.9 failed \(exit 3\):\n/);
      assert.match(err.message, /No match found for version 9\.9\.9$/);
      assert.match(err.message, /line 21\n/);
      assert.doesNotMatch(err.message, /line 20\n/, 'twelve lines, not all of them');
      assert.equal(isNpmNotFound(err), true);
      assert.equal(err.transient, false, 'a version that does not exist will not appear by waiting');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a missing npm says so', async () => {
    const err = await createNpmRunner('/nonexistent/npm')({ args: ['view'], cwd: tmpdir(), env: { PATH: '/usr/bin' } }).then(
      () => assert.fail('should fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof FleetError);
    assert.equal(err.code, 'RUNTIME_FAILED');
    assert.match(err.message, /cannot run "\/nonexistent\/npm"/);
    assert.equal(isNpmNotFound(err), false);
  });

  test('failures are classified by npm\'s own error code: network and unknown ones are transient, missing versions are not', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fleetd-'));
    try {
      const cases: Array<[string, string, boolean]> = [
        ['npm error code ECONNRESET\nnpm error network socket hang up', 'ECONNRESET', true],
        ['npm ERR! code EAI_AGAIN\nnpm ERR! getaddrinfo EAI_AGAIN registry.npmjs.org', 'EAI_AGAIN', true],
        ['npm error code ETARGET\nnpm error notarget No matching version found for openclaw@0.0.1.', 'ETARGET', false],
        ['npm error code EBADPLATFORM\nnpm error notsup Unsupported platform', 'EBADPLATFORM', false],
        ['npm error something without a code\nnpm error 404 Not Found (only in the text)', '', true],
      ];
      for (const [stderr, code, transient] of cases) {
        const script = join(dir, 'npm');
        await writeFile(join(dir, 'stderr.txt'), `${stderr}\n`);
        await writeFile(script, `#!/bin/sh\ncat "${join(dir, 'stderr.txt')}" >&2\nexit 1\n`);
        await chmod(script, 0o755);
        const err = await createNpmRunner(script)({ args: ['install'], cwd: dir, env: { PATH: '/usr/bin:/bin' } }).then(
          () => assert.fail('should fail'),
          (e: unknown) => e,
        );
        assert.ok(err instanceof FleetError);
        assert.equal((err.details as { npmCode: string | null }).npmCode, code || null, stderr);
        assert.equal(err.transient, transient, stderr);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('npmErrorCode reads the code line or the --json error object', () => {
    assert.equal(npmErrorCode('', 'npm warn x\nnpm error code E404\nnpm error 404'), 'E404');
    assert.equal(npmErrorCode('{"error":{"code":"ETARGET","summary":"x"}}', ''), 'ETARGET');
    assert.equal(npmErrorCode('not json', 'npm error 404 Not Found'), undefined);
  });

  test('tailLines drops blank lines and keeps the end', () => {
    assert.equal(tailLines('a\n\nb\r\nc\n\n', 2), 'b\nc');
    assert.equal(tailLines('', 3), '');
  });
});
