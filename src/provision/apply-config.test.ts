import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FleetError } from '../errors.js';
import { withTempDir } from '../util/temp-dir.js';
import { applyConfig } from './apply-config.js';
import { depthOf, parseConfigText } from './config-file.js';
import JSON5 from 'json5';

const desired = { gateway: { mode: 'local', port: 20000, bind: 'loopback', auth: { mode: 'token', token: 't'.repeat(64) } }, logging: { level: 'info' } };

/** A config dir with openclaw.json (optional text) and the applied record path. */
async function setup(dir: string, text?: string) {
  const configDir = join(dir, 'home', '.openclaw');
  await mkdir(configDir, { recursive: true });
  const configPath = join(configDir, 'openclaw.json');
  if (text !== undefined) await writeFile(configPath, text, { mode: 0o600 });
  return { configPath, appliedPath: join(dir, 'agents', 'acme', 'a', 'config.applied.json') };
}

const readJson = async (path: string) => JSON.parse(await readFile(path, 'utf8'));

test('first apply writes the desired config and records it; OpenClaw\'s later keys survive the next apply', async () => {
  await withTempDir(async (dir) => {
    const paths = await setup(dir);
    const first = await applyConfig({ ...paths, desired });
    assert.equal(first.written, true);
    assert.deepEqual(await readJson(paths.configPath), desired);
    assert.deepEqual(await readJson(paths.appliedPath), desired);
    assert.equal((await stat(paths.appliedPath)).mode & 0o777, 0o600);

    // OpenClaw (config set) adds a key and its meta block, JSON5 comments and all
    const byOpenClaw = { ...desired, agents: { defaults: { heartbeat: { every: '2h' } } }, meta: { lastTouchedVersion: '2026.9.6' } };
    await writeFile(paths.configPath, `// written by openclaw\n${JSON.stringify(byOpenClaw, null, 2)}\n`);
    const inode = (await stat(paths.configPath)).ino;
    const second = await applyConfig({ ...paths, desired });
    assert.equal(second.written, false, 'nothing of fleetd\'s changed: the file is left as OpenClaw wrote it');
    assert.equal((await stat(paths.configPath)).ino, inode);
    assert.deepEqual(second.openclaw.map((k) => k.path.join('.')), ['agents', 'meta']);

    // the manifest changes a key: OpenClaw's keys are still there after the write
    const third = await applyConfig({ ...paths, desired: { ...desired, logging: { level: 'debug' } } });
    assert.equal(third.written, true);
    const now = await readJson(paths.configPath);
    assert.equal(now.logging.level, 'debug');
    assert.equal(now.agents.defaults.heartbeat.every, '2h');
    assert.equal(now.meta.lastTouchedVersion, '2026.9.6');
    assert.deepEqual(third.overrides, []);
  });
});

test('an override of a value OpenClaw changed is reported', async () => {
  await withTempDir(async (dir) => {
    const paths = await setup(dir);
    await applyConfig({ ...paths, desired });
    await writeFile(paths.configPath, JSON.stringify({ ...desired, logging: { level: 'trace' } }));
    const r = await applyConfig({ ...paths, desired });
    assert.equal(r.written, true);
    assert.deepEqual(r.overrides, [{ kind: 'override', path: ['logging', 'level'], openclaw: 'trace', desired: 'info' }]);
    assert.equal((await readJson(paths.configPath)).logging.level, 'info');
  });
});

test('a write by the gateway between the merge and the rename is not clobbered: the merge starts over on its version', async () => {
  await withTempDir(async (dir) => {
    const paths = await setup(dir);
    await applyConfig({ ...paths, desired });
    const attempts: number[] = [];
    const r = await applyConfig({
      ...paths,
      desired: { ...desired, logging: { level: 'debug' } },
      beforeCommit: async (attempt) => {
        attempts.push(attempt);
        // the gateway's own write lands right after fleetd read the file (first attempt only)
        if (attempt === 1) await writeFile(paths.configPath, JSON.stringify({ ...desired, channels: { telegram: { enabled: true } } }));
      },
    });
    assert.deepEqual(attempts, [1, 2]);
    assert.equal(r.written, true);
    const now = await readJson(paths.configPath);
    assert.deepEqual(now.channels, { telegram: { enabled: true } }, "the gateway's write survived");
    assert.equal(now.logging.level, 'debug');
  });
});

test('a file that keeps changing ends in a clear error after the bounded attempts, and is left as the gateway wrote it', async () => {
  await withTempDir(async (dir) => {
    const paths = await setup(dir);
    await applyConfig({ ...paths, desired });
    let n = 0;
    await assert.rejects(
      applyConfig({
        ...paths,
        desired: { ...desired, logging: { level: 'debug' } },
        maxAttempts: 3,
        beforeCommit: async () => writeFile(paths.configPath, JSON.stringify({ ...desired, n: ++n })),
      }),
      (err: unknown) => err instanceof FleetError && err.code === 'PROVISION_FAILED' && /kept changing.*3 attempts/.test(err.message),
    );
    assert.equal((await readJson(paths.configPath)).n, 3);
  });
});

test('a config that is not valid JSON5 is never overwritten; the error names file:line:col', async () => {
  await withTempDir(async (dir) => {
    const broken = '{\n  gateway: {\n    port: 20000,,\n  }\n}\n';
    const paths = await setup(dir, broken);
    await assert.rejects(applyConfig({ ...paths, desired }), (err: unknown) => {
      assert.ok(err instanceof FleetError);
      assert.equal(err.code, 'PROVISION_FAILED');
      assert.match(err.message, new RegExp(`${paths.configPath.replace(/[.]/g, '\\.')}:3:17: not valid JSON5`));
      assert.match(err.message, /doctor --fix/);
      return true;
    });
    assert.equal(await readFile(paths.configPath, 'utf8'), broken);
  });
});

test('a top-level array or a too deep file is refused, not merged', async () => {
  assert.throws(() => parseConfigText('[1,2]', '/x/openclaw.json'), /expected a JSON5 object at the top, found an array/);
  const deep = `${'{"a":'.repeat(150)}1${'}'.repeat(150)}`;
  assert.throws(() => parseConfigText(deep, '/x/openclaw.json'), /nested deeper than 100 levels/);
  assert.equal(depthOf({ a: [{ b: 1 }] }, 100), 3);
});

test('openclaw.json as a symlink is refused: nothing is read through it nor written', async () => {
  await withTempDir(async (dir) => {
    const paths = await setup(dir);
    const target = join(dir, 'private.json');
    await writeFile(target, JSON.stringify({ stolen: 'value only fleetd may read' }), { mode: 0o600 });
    await symlink(target, paths.configPath);
    await assert.rejects(applyConfig({ ...paths, desired }), /is a symbolic link; fleetd neither follows nor replaces it/);
    assert.deepEqual(JSON.parse(await readFile(target, 'utf8')), { stolen: 'value only fleetd may read' });
  });
});

test('an unchanged file with a loose mode is set back to 0600 without a rewrite', async () => {
  await withTempDir(async (dir) => {
    const paths = await setup(dir);
    await applyConfig({ ...paths, desired });
    await chmod(paths.configPath, 0o644);
    const inode = (await stat(paths.configPath)).ino;
    const r = await applyConfig({ ...paths, desired });
    assert.equal(r.written, false);
    assert.equal((await stat(paths.configPath)).mode & 0o777, 0o600);
    assert.equal((await stat(paths.configPath)).ino, inode);
  });
});

test('a damaged last-applied record degrades safely: desired keys win, the file\'s other keys are kept', async () => {
  await withTempDir(async (dir) => {
    const paths = await setup(dir, JSON.stringify({ ...desired, logging: { level: 'trace' }, own: 1 }));
    await mkdir(join(dir, 'agents', 'acme', 'a'), { recursive: true });
    await writeFile(paths.appliedPath, '{ broken');
    const r = await applyConfig({ ...paths, desired });
    assert.match(r.appliedProblem ?? '', /damaged/);
    const now = await readJson(paths.configPath);
    assert.equal(now.logging.level, 'info');
    assert.equal(now.own, 1);
    assert.deepEqual(await readJson(paths.appliedPath), desired, 'the record is rewritten');
    assert.deepEqual((await readdir(join(dir, 'home', '.openclaw'))).sort(), ['openclaw.json'], 'no temp file left');
  });
});

test('openclaw.json: plain JSON and JSON5 (comments, trailing commas, a BOM) parse alike; a `__proto__` key stays an own key; an error names file, line and column', () => {
  const json = '{"gateway":{"port":18789,"auth":{"token":"t"}},"__proto__":{"polluted":true},"list":[1,2.5,-0,"x\\u2028y"]}';
  const parsed = parseConfigText(json, '/x/openclaw.json');
  assert.deepEqual(parsed, JSON5.parse(json));
  assert.ok(Object.hasOwn(parsed, '__proto__'), 'an own key, as JSON5 made it');
  assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype touched');
  const json5 = '\uFEFF{\n  // OpenClaw\'s own comment\n  gateway: { port: 18789, auth: { token: "t", }, },\n}\n';
  assert.deepEqual(parseConfigText(json5, '/x/openclaw.json'), { gateway: { port: 18789, auth: { token: 't' } } });
  assert.throws(() => parseConfigText('{\n  "a": 1,\n  "b": ]\n}', '/x/openclaw.json'), /^FleetError: \/x\/openclaw\.json:3:8: not valid JSON5/);
});
