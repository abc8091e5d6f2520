import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FleetError } from '../errors.js';
import { withTempDir } from '../util/temp-dir.js';
import { MAX_SECRET_BYTES, readSecretEnv } from './read.js';
import { envValueSchema, secretPath, splitEnv } from './refs.js';

const ctx = (over: Partial<Parameters<typeof readSecretEnv>[1]> = {}) => ({ address: 'acme/korax', credentialsDir: undefined, ...over });

test('a 0600 file is read; one trailing newline is dropped, inner ones are kept', async () => {
  await withTempDir(async (dir) => {
    await writeFile(join(dir, 'a'), 'sk-ant-123\n', { mode: 0o600 });
    await writeFile(join(dir, 'pem'), 'line one\nline two\r\n', { mode: 0o400 });
    const r = await readSecretEnv({ A: { file: join(dir, 'a') }, P: { file: join(dir, 'pem') } }, ctx());
    assert.deepEqual(r.env, { A: 'sk-ant-123', P: 'line one\nline two' });
    assert.deepEqual(r.values.sort(), ['line one\nline two', 'sk-ant-123']);
  });
});

test('systemd credentials resolve under $CREDENTIALS_DIRECTORY; without it the error says what the unit needs', async () => {
  await withTempDir(async (dir) => {
    await writeFile(join(dir, 'anthropic'), 'from-credential', { mode: 0o400 });
    const r = await readSecretEnv({ KEY: { credential: 'anthropic' } }, ctx({ credentialsDir: dir }));
    assert.equal(r.env['KEY'], 'from-credential');
    await assert.rejects(readSecretEnv({ KEY: { credential: 'anthropic' } }, ctx()), /CREDENTIALS_DIRECTORY is not set; give fleetd's unit LoadCredential=anthropic:/);
    assert.equal(secretPath({ credential: 'x' }, '/run/credentials/fleetd.service'), '/run/credentials/fleetd.service/x');
  });
});

test('every bad kind of secret file is refused with the variable, agent, file and origin named, and never the value', async () => {
  await withTempDir(async (dir) => {
    const value = 'the-secret-value-0123456789';
    await writeFile(join(dir, 'world'), value, { mode: 0o644 });
    await chmod(join(dir, 'world'), 0o644);
    await writeFile(join(dir, 'group'), value, { mode: 0o640 });
    await chmod(join(dir, 'group'), 0o640);
    await mkdir(join(dir, 'folder'));
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    await chmod(join(dir, 'fifo'), 0o600);
    await writeFile(join(dir, 'big'), 'x'.repeat(MAX_SECRET_BYTES + 1), { mode: 0o600 });
    await writeFile(join(dir, 'nul'), 'a\0b', { mode: 0o600 });
    const rows: Array<[string, RegExp]> = [
      ['missing', /does not exist/],
      ['world', /readable by its group or by others \(mode 0644\); run chmod go-rwx/],
      ['group', /mode 0640/],
      ['folder', /not a regular file/],
      ['fifo', /not a regular file/],
      ['big', /holds 65537 bytes, more than the 65536 a secret may have/],
      ['nul', /NUL byte/],
    ];
    for (const [name, pattern] of rows) {
      const path = join(dir, name);
      await assert.rejects(
        readSecretEnv({ API_KEY: { file: path } }, ctx({ origin: { API_KEY: '/etc/fleetd/fleets.json5: fleets.acme.agents.korax.env.API_KEY' } })),
        (err: unknown) => {
          assert.ok(err instanceof FleetError, name);
          assert.equal(err.code, 'SECRET_UNAVAILABLE');
          assert.match(err.message, pattern, name);
          assert.match(err.message, /env API_KEY of acme\/korax/, name);
          assert.ok(err.message.includes(path), name);
          assert.match(err.message, /declared at \/etc\/fleetd\/fleets\.json5: fleets\.acme\.agents\.korax\.env\.API_KEY/, name);
          assert.equal(err.message.includes(value), false, name);
          return true;
        },
      );
    }
  });
});

test('all unreadable variables are reported at once', async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(readSecretEnv({ A: { file: join(dir, 'a') }, B: { file: join(dir, 'b') } }, ctx()), (err: unknown) => {
      assert.ok(err instanceof FleetError);
      assert.equal(err.message.split('\n').length, 2);
      assert.deepEqual((err.details as { variables: string[] }).variables, ['A', 'B']);
      return true;
    });
  });
});

test('a symlink to a private file is followed (secret mounts use links); the mode checked is the target\'s', async () => {
  await withTempDir(async (dir) => {
    await writeFile(join(dir, 'real'), 'v', { mode: 0o600 });
    await symlink(join(dir, 'real'), join(dir, 'link'));
    assert.equal((await readSecretEnv({ A: { file: join(dir, 'link') } }, ctx())).env['A'], 'v');
  });
});

test('env values: strings or references; splitEnv separates them; the schema says what is expected', () => {
  assert.deepEqual(splitEnv({ A: 'x', B: { file: '/s/b' }, C: { credential: 'c' } }), { plain: { A: 'x' }, secrets: { B: { file: '/s/b' }, C: { credential: 'c' } } });
  assert.equal(envValueSchema.safeParse({ file: '/abs' }).success, true);
  for (const bad of [{ file: 'relative/path' }, { credential: '../x' }, { credential: 'a/b' }, { file: '/a', credential: 'b' }, 5, { other: 1 }]) {
    const r = envValueSchema.safeParse(bad);
    assert.equal(r.success, false, JSON.stringify(bad));
  }
  const r = envValueSchema.safeParse(5);
  assert.match(r.error!.issues[0]!.message, /expected a string, \{ file: "\/absolute\/path" \} or \{ credential: "name" \}/);
});
