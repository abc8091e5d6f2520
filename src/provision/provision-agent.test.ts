import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openRegistry } from '../daemon/registry.js';
import { FleetError } from '../errors.js';
import type { DesiredAgent } from '../plan/types.js';
import { ensureEntry } from './ensure-entry.js';
import { agentPaths, ensureHome, ensureSupervisorDir } from './home.js';
import { provisionAgent } from './provision-agent.js';
import { generateToken, isValidToken } from './token.js';
import { withTempDir } from '../util/temp-dir.js';

const ports = { base: 20000, blockSize: 100, max: 65000 };
const now = () => new Date('2026-01-01T00:00:00Z');
const parentEnv = { PATH: '/usr/bin:/bin', SECRET_MARKER: 'x', INVOCATION_ID: 'y', OPENCLAW_FOO: 'z' };

function desired(address: string, config: Record<string, unknown> = {}): DesiredAgent {
  const [fleet, agent] = address.split('/') as [string, string];
  return { address: address as DesiredAgent['address'], fleet, agent, source: 'manifest', enabled: true, config, env: { GREETING: 'hi' }, launch: { kind: 'command', command: ['x'] } };
}


const mode = async (path: string) => (await stat(path)).mode & 0o777;

/** The daemon's sequence: entry under the registry lock, then the home. */
async function provision(stateDir: string, d: DesiredAgent) {
  const registry = openRegistry(stateDir);
  let entry!: Awaited<ReturnType<typeof ensureEntry>>['entry'];
  await registry.update(async (reg) => {
    entry = (await ensureEntry(reg, d, { ports, now, isPortFree: async () => true })).entry;
  });
  const result = await provisionAgent({ stateDir, desired: d, entry, blockSize: ports.blockSize, parentEnv });
  return { entry, result, registry };
}

for (const umask of [0, 0o277]) {
  test(`every folder is 0700 and every file 0600, even with umask ${umask.toString(8).padStart(3, '0')}`, async () => {
    const old = process.umask(umask);
    try {
      await withTempDir(async (dir) => {
        const stateDir = join(dir, 'state');
        const { result, registry } = await provision(stateDir, desired('acme/korax'));
        const home = join(stateDir, 'fleets', 'acme', 'korax');
        assert.equal(result.home, home);
        for (const folder of [stateDir, join(stateDir, 'fleets'), join(stateDir, 'fleets', 'acme'), home, join(home, '.openclaw'), join(home, 'workspace'), join(home, 'logs'), join(home, '.cache')]) {
          assert.equal((await mode(folder)).toString(8), '700', folder);
        }
        assert.equal((await mode(result.configPath)).toString(8), '600');
        assert.equal((await mode(registry.path)).toString(8), '600');
        assert.deepEqual((await readdir(join(home, '.openclaw'))).sort(), ['openclaw.json'], 'no temp file left behind');
      });
    } finally {
      process.umask(old);
    }
  });
}

test('modes of an existing home are repaired', async () => {
  await withTempDir(async (dir) => {
    const stateDir = join(dir, 'state');
    const { result } = await provision(stateDir, desired('acme/korax'));
    await chmod(result.home, 0o755);
    await chmod(join(result.home, 'logs'), 0o777);
    await chmod(result.configPath, 0o644);
    await provision(stateDir, desired('acme/korax'));
    assert.equal(await mode(result.home), 0o700);
    assert.equal(await mode(join(result.home, 'logs')), 0o700);
    assert.equal(await mode(result.configPath), 0o600);
  });
});

test('token and port survive a re-provision; openclaw.json is rewritten only when it changes', async () => {
  await withTempDir(async (dir) => {
    const stateDir = join(dir, 'state');
    const first = await provision(stateDir, desired('acme/korax'));
    assert.ok(isValidToken(first.entry.token));
    assert.match(first.entry.token, /^[0-9a-f]{64}$/);
    assert.equal(first.result.configWritten, true);
    const config = JSON.parse(await readFile(first.result.configPath, 'utf8'));
    assert.deepEqual(config.gateway, { mode: 'local', port: 20000, bind: 'loopback', auth: { mode: 'token', token: first.entry.token } });
    assert.equal(config.logging.file, join(first.result.home, 'logs', 'openclaw.log'));
    assert.equal(config.agents.defaults.workspace, join(first.result.home, 'workspace'));
    assert.equal(config.browser.enabled, false);
    const inode = (await stat(first.result.configPath)).ino;

    const second = await provision(stateDir, desired('acme/korax'));
    assert.equal(second.entry.token, first.entry.token);
    assert.equal(second.entry.port, first.entry.port);
    assert.equal(second.result.configWritten, false);
    assert.equal((await stat(first.result.configPath)).ino, inode);
    assert.equal(second.result.hash, first.result.hash);

    const third = await provision(stateDir, desired('acme/korax', { logging: { level: 'debug' } }));
    assert.equal(third.result.configWritten, true);
    assert.notEqual((await stat(first.result.configPath)).ino, inode);
    assert.notEqual(third.result.hash, first.result.hash);
    const rewritten = JSON.parse(await readFile(first.result.configPath, 'utf8'));
    assert.equal(rewritten.gateway.auth.token, first.entry.token);
    assert.equal(rewritten.logging.level, 'debug');
  });
});

test('two agents get different tokens, ports and homes', async () => {
  await withTempDir(async (dir) => {
    const stateDir = join(dir, 'state');
    const a = await provision(stateDir, desired('acme/a'));
    const b = await provision(stateDir, desired('acme/b'));
    assert.notEqual(a.entry.token, b.entry.token);
    assert.notEqual(a.entry.port, b.entry.port);
    assert.notEqual(a.result.home, b.result.home);
    assert.notEqual(generateToken(), generateToken());
  });
});

test('the returned env is the isolated one, with nothing leaked from the parent', async () => {
  await withTempDir(async (dir) => {
    const stateDir = join(dir, 'state');
    const { result } = await provision(stateDir, desired('acme/korax'));
    assert.equal(result.env['HOME'], result.home);
    assert.equal(result.env['OPENCLAW_CONFIG_PATH'], result.configPath);
    assert.equal(result.env['OPENCLAW_STATE_DIR'], join(result.home, '.openclaw'));
    assert.equal(result.env['GREETING'], 'hi');
    assert.equal(result.logFile, join(stateDir, 'agents', 'acme', 'korax', 'gateway.log'));
    for (const name of ['SECRET_MARKER', 'INVOCATION_ID', 'OPENCLAW_FOO']) assert.equal(name in result.env, false, name);
  });
});

test('a home that is a symlink is refused and nothing is written through it', async () => {
  await withTempDir(async (dir) => {
    const stateDir = join(dir, 'state');
    const elsewhere = join(dir, 'elsewhere');
    await mkdir(elsewhere);
    await mkdir(join(stateDir, 'fleets', 'acme'), { recursive: true });
    await symlink(elsewhere, join(stateDir, 'fleets', 'acme', 'korax'));
    const token = generateToken();
    await assert.rejects(provisionAgent({ stateDir, desired: desired('acme/korax'), entry: { port: 20000, token }, blockSize: 100, parentEnv }), (err: unknown) => {
      assert.ok(err instanceof FleetError);
      assert.equal(err.code, 'PROVISION_FAILED');
      assert.match(err.message, /is a symbolic link \(to .*elsewhere\)/);
      return true;
    });
    assert.deepEqual(await readdir(elsewhere), []);
  });
});

test('ids that could leave <stateDir>/fleets are refused', () => {
  for (const [fleet, agent] of [['..', 'x'], ['acme', '../../etc'], ['acme', 'a/b'], ['', 'x'], ['Acme', 'x']] as const) {
    assert.throws(() => agentPaths('/state', fleet, agent), { code: 'PROVISION_FAILED' }, `${fleet}/${agent}`);
  }
  assert.equal(agentPaths('/state', 'acme', 'korax').home, '/state/fleets/acme/korax');
});

test('agent paths are computed once per state dir and address: the same frozen object, never another agent\'s', () => {
  const a = agentPaths('/state', 'acme', 'korax');
  assert.equal(agentPaths('/state', 'acme', 'korax'), a);
  assert.ok(Object.isFrozen(a));
  assert.throws(() => ((a as { home: string }).home = '/elsewhere'), TypeError);
  assert.equal(agentPaths('/other', 'acme', 'korax').home, '/other/fleets/acme/korax');
  assert.equal(agentPaths('/state', 'acme', 'kora').home, '/state/fleets/acme/kora');
  assert.equal(agentPaths('/state', 'acm', 'ekorax').home, '/state/fleets/acm/ekorax');
  assert.equal(agentPaths('/state/', 'acme', 'korax').configPath, '/state/fleets/acme/korax/.openclaw/openclaw.json');
  // refused ids are never kept: asked again, still refused
  assert.throws(() => agentPaths('/state', 'acme', '../x'), { code: 'PROVISION_FAILED' });
  assert.throws(() => agentPaths('/state', 'acme', '../x'), { code: 'PROVISION_FAILED' });
});

test('secret files are read at provisioning of an enabled agent; the hash follows the reference, not the value', async () => {
  await withTempDir(async (dir) => {
    const stateDir = join(dir, 'state');
    const file = join(dir, 'anthropic');
    await writeFile(file, 'sk-first-value\n', { mode: 0o600 });
    const withSecret = (path: string, enabled = true): DesiredAgent => ({ ...desired('acme/korax'), enabled, env: { GREETING: 'hi', ANTHROPIC_API_KEY: { file: path } } });
    const first = await provision(stateDir, withSecret(file));
    assert.equal(first.result.env['ANTHROPIC_API_KEY'], 'sk-first-value');
    assert.deepEqual(first.result.secretValues, ['sk-first-value']);
    assert.equal((await readFile(first.result.configPath, 'utf8')).includes('sk-first-value'), false);

    await writeFile(file, 'sk-rotated-value\n');
    const rotated = await provision(stateDir, withSecret(file));
    assert.equal(rotated.result.env['ANTHROPIC_API_KEY'], 'sk-rotated-value', 'a rotated file is read at the next start');
    assert.equal(rotated.result.hash, first.result.hash, 'rotation alone does not change the applied hash');

    const moved = join(dir, 'anthropic-2');
    await writeFile(moved, 'sk-first-value\n', { mode: 0o600 });
    const other = await provision(stateDir, withSecret(moved));
    assert.notEqual(other.result.hash, first.result.hash, 'a new reference does');

    await assert.rejects(provision(stateDir, withSecret(join(dir, 'missing'))), { code: 'SECRET_UNAVAILABLE' });
    const disabled = await provision(stateDir, withSecret(join(dir, 'missing'), false));
    assert.equal('ANTHROPIC_API_KEY' in disabled.result.env, false, 'a disabled agent never starts: its secrets are not read');
  });
});

test('an OpenClaw write to openclaw.json survives a re-provision; the last applied config sits outside the home, 0600', async () => {
  await withTempDir(async (dir) => {
    const stateDir = join(dir, 'state');
    const { result } = await provision(stateDir, desired('acme/korax'));
    const config = JSON.parse(await readFile(result.configPath, 'utf8'));
    config.agents.defaults.heartbeat = { every: '2h' };
    await writeFile(result.configPath, JSON.stringify(config));
    const again = await provision(stateDir, desired('acme/korax'));
    assert.equal(again.result.configWritten, false);
    assert.equal(JSON.parse(await readFile(result.configPath, 'utf8')).agents.defaults.heartbeat.every, '2h');
    const applied = join(stateDir, 'agents', 'acme', 'korax', 'config.applied.json');
    assert.equal(await mode(applied), 0o600);
    assert.equal(await mode(join(stateDir, 'agents', 'acme', 'korax')), 0o700);
    assert.equal(JSON.parse(await readFile(applied, 'utf8')).agents.defaults.heartbeat, undefined);
  });
});

test('folders already in place are checked without a turn of the event loop; one out of place is repaired', () =>
  withTempDir(async (stateDir) => {
    const paths = agentPaths(stateDir, 'f', 'a');
    await ensureHome(stateDir, 'f', paths);
    await ensureSupervisorDir(stateDir, 'f', paths);
    let turned = false;
    setImmediate(() => (turned = true));
    await ensureHome(stateDir, 'f', paths);
    await ensureSupervisorDir(stateDir, 'f', paths);
    assert.equal(turned, false, 'a restart does not wait on the thread pool for a tree that is in place');
    await chmod(paths.workspace, 0o755);
    await ensureHome(stateDir, 'f', paths);
    assert.equal(await mode(paths.workspace), 0o700);
  }));

test('a restart of an agent whose home and openclaw.json are in place provisions it in one turn of the event loop, keeping what OpenClaw wrote', async () => {
  // Every launch provisions (restarts after a crash included); each awaited read of the two
  // config files was a turn of fleetd's event loop, which a busy daemon fills with other work.
  await withTempDir(async (dir) => {
    const stateDir = join(dir, 'state');
    const d = desired('acme/korax', { gateway: { bind: 'loopback' } });
    const { entry, result: first } = await provision(stateDir, d);
    const written = JSON.parse(await readFile(first.configPath, 'utf8')) as Record<string, unknown>;
    await writeFile(first.configPath, JSON.stringify({ ...written, wizard: { lastRunAt: 'by OpenClaw' } }), { mode: 0o600 });
    let turned = false;
    setImmediate(() => (turned = true));
    const again = await provisionAgent({ stateDir, desired: d, entry, blockSize: ports.blockSize, parentEnv });
    assert.equal(turned, false, 'provisioned without waiting for a turn of the event loop');
    assert.equal(again.configWritten, false, 'nothing to merge: the file is left as OpenClaw wrote it');
    assert.deepEqual((again.config as { wizard?: unknown }).wizard, { lastRunAt: 'by OpenClaw' });
  });
});
