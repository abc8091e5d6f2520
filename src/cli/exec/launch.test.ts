import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FleetError } from '../../errors.js';
import type { ExecSpec } from '../../protocol/operate-schemas.js';
import { withTempDir } from '../../util/temp-dir.js';
import { buildLaunch, openclawArgv, prepareLaunch, type ExecLaunch } from './launch.js';

const run = promisify(execFile);

/** Runs a launch to completion, capturing its output (the CLI inherits the terminal instead). */
async function capture(launch: ExecLaunch): Promise<string> {
  const { stdout } = await run(launch.file, launch.args, { cwd: launch.cwd, env: launch.env });
  return stdout;
}

function spec(home: string, user: ExecSpec['user'], secrets: ExecSpec['secrets'] = {}): ExecSpec {
  return { address: 'acme/a', cwd: home, env: { PATH: '/usr/bin:/bin', HOME: home, OPENCLAW_SUPERVISOR_MODE: 'external' }, secrets, runtime: null, user };
}

const self = { uid: process.getuid!(), gid: process.getgid!(), name: 'me' };

test('same user: the command runs directly with the spec env, the secrets read by the caller, the terminal variables', async () => {
  await withTempDir(async (dir) => {
    await writeFile(join(dir, 'secret'), 'the-value\n', { mode: 0o600 });
    const launch = await prepareLaunch(spec(dir, self, { S: { ref: 'file x', path: join(dir, 'secret'), origin: null } }), ['sh', '-c', 'pwd; echo "$S|$OPENCLAW_SUPERVISOR_MODE|$TERM|${LEAK:-none}"'], {
      callerUid: self.uid,
      callerEnv: { TERM: 'xterm-256color', LEAK: 'caller-only' },
    });
    assert.equal(launch.file, 'sh');
    assert.equal(await capture(launch), `${dir}\nthe-value|external|xterm-256color|none\n`);
  });
});

test('secrets the caller cannot have are refused before anything runs', async () => {
  await withTempDir(async (dir) => {
    await writeFile(join(dir, 'loose'), 'v', { mode: 0o644 });
    await assert.rejects(prepareLaunch(spec(dir, self, { S: { ref: 'file loose', path: join(dir, 'loose'), origin: 'm.json5: defaults.env.S' } }), ['true'], { callerUid: self.uid, callerEnv: {} }), {
      code: 'SECRET_UNAVAILABLE',
      message: /env S of acme\/a .*readable by its group or by others/,
    });
    await assert.rejects(prepareLaunch(spec(dir, self, { S: { ref: 'systemd credential "s"', path: null, origin: null } }), ['true'], { callerUid: self.uid, callerEnv: {} }), {
      code: 'SECRET_UNAVAILABLE',
      message: /without \$CREDENTIALS_DIRECTORY/,
    });
  });
});

test('a caller that is neither root nor the agent\'s user is refused; a missing home is named', async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(prepareLaunch(spec(dir, { uid: 4242, gid: 4242, name: 'agentuser' }), ['true'], { callerUid: 1000, callerEnv: {} }), (err: unknown) => {
      assert.ok(err instanceof FleetError && err.code === 'REFUSED');
      assert.match(err.message, /runs as user agentuser \(uid 4242\) and you are uid 1000/);
      return true;
    });
    await assert.rejects(prepareLaunch(spec(join(dir, 'gone'), self), ['true'], { callerUid: self.uid, callerEnv: {} }), { code: 'NOT_FOUND', message: /does not exist yet/ });
  });
});

test('openclaw runs through the runtime\'s node and entry, else from the agent\'s PATH', () => {
  const withRuntime = { ...spec('/h', self), runtime: { version: '2026.9.6', dir: '/r', node: '/r/node', entry: '/r/openclaw.mjs', nodeVersion: '26.0.0' } };
  assert.deepEqual(openclawArgv(withRuntime, ['--version']), ['/r/node', '/r/openclaw.mjs', '--version']);
  assert.deepEqual(openclawArgv(spec('/h', self), ['status']), ['openclaw', 'status']);
  const launch = buildLaunch(withRuntime, ['x'], { kind: 'setpriv', prefix: ['/usr/bin/setpriv', '--reuid', '5', '--'] }, {}, {});
  assert.deepEqual([launch.file, ...launch.args], ['/usr/bin/setpriv', '--reuid', '5', '--', 'x']);
});

// A real user, made for this test and deleted after it (also on failure).
test('as root, the command runs as the agent\'s real user (setpriv): its uid, gid and groups, in its home', { skip: process.getuid?.() !== 0 ? 'needs root (useradd, setpriv)' : false }, async () => {
  const name = `fdt-${randomBytes(4).toString('hex')}`;
  execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', name]);
  try {
    const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
    await withTempDir(async (dir) => {
      const home = join(dir, 'home');
      await mkdir(home, { mode: 0o700 });
      await chown(home, uid, gid);
      await chown(dir, uid, gid); // so the user can reach its home below the temp dir
      await writeFile(join(dir, 'root-only'), 'private', { mode: 0o600 });
      await chown(join(dir, 'root-only'), 0, 0);
      await writeFile(join(dir, 'secret'), 'sk-for-the-agent\n', { mode: 0o600 });
      const launch = await prepareLaunch(
        spec(home, { uid, gid, name }, { S: { ref: 'file secret', path: join(dir, 'secret'), origin: null } }),
        ['sh', '-c', `id -u; id -g; id -G; pwd; echo "$S"; touch made && stat -c %u made; cat ${join(dir, 'root-only')} 2>/dev/null || echo denied`],
        { callerUid: 0, callerEnv: {} },
      );
      assert.match(launch.file, /setpriv$/);
      const lines = (await capture(launch)).trim().split('\n');
      assert.deepEqual(lines, [String(uid), String(gid), String(gid), home, 'sk-for-the-agent', String(uid), 'denied']);
    });
  } finally {
    execFileSync('userdel', [name]);
  }
});
