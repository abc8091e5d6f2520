// End to end (fake gateway): `fleetctl backup` and `fleetctl restore`. A round trip through
// a purge brings back the home, the token and OpenClaw's own config keys; the archive is
// 0600 and never overwrites a file; a running agent is refused; a hostile archive is
// refused with nothing written; an archive of one agent goes onto another only with a new
// token.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import JSON5 from 'json5';
import { Header } from 'tar';
import { agentHome, cleanup, fakeInfo, fakeManifest, run, startFleetd, stopFleetd, tempDir, waitAllDead, FLEETCTL, type Fleetd } from './harness.js';

/** fleetctl without --json, run in `cwd`. */
function human(f: Fleetd, cwd: string, ...args: string[]) {
  return run('sh', ['-c', `cd "$1" && shift && exec "$@"`, 'sh', cwd, process.execPath, FLEETCTL, '--socket', f.socket, ...args]);
}

/** Every path under `dir` with its content hash (folders as "dir"), for before/after comparisons. */
async function treeOf(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (rel: string) => {
    for (const entry of await readdir(join(dir, rel), { withFileTypes: true })) {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        out[path] = 'dir';
        await walk(path);
      } else out[path] = entry.isFile() ? createHash('sha256').update(await readFile(join(dir, path))).digest('hex') : 'other';
    }
  };
  await walk('');
  return out;
}

describe('backup and restore (fake gateway)', () => {
  let dir: string;
  let f: Fleetd;
  const seen: number[] = [];
  const track = async (address: string) => {
    const info = await fakeInfo(f.stateDir, address);
    seen.push(info.pid, info.helperPid, info.workerPid);
  };

  before(async () => {
    dir = await tempDir();
    f = await startFleetd(dir, fakeManifest({ acme: { agents: { keep: {} } } }), { waitRunning: 1 });
    await track('acme/keep');
  });

  after(async () => {
    if (f) assert.equal(await stopFleetd(f), 0);
    await waitAllDead(seen);
    await cleanup(dir);
  });

  test('round trip through a purge: home, token, OpenClaw\'s config keys and the workspace come back; the agent starts', async () => {
    const add = await f.ctl('add', 'agent', 'acme/cli', '--set', 'logging.level="debug"');
    assert.equal(add.code, 0, add.stderr);
    await track('acme/cli');
    const home = agentHome(f.stateDir, 'acme/cli');
    const token = (await f.ctl('token', 'acme/cli')).json.token;
    await writeFile(join(home, 'workspace', 'MEMORY.md'), '# remembered\n');
    const configPath = join(home, '.openclaw', 'openclaw.json');
    const config = JSON5.parse(await readFile(configPath, 'utf8'));
    config.agents.defaults.heartbeat = { every: '2h' };
    await writeFile(configPath, JSON.stringify(config));

    const b = await human(f, dir, 'backup', 'acme/cli', '-o', 'cli.tar.gz', '--json');
    assert.equal(b.code, 0, b.stderr);
    const summary = JSON.parse(b.stdout);
    assert.equal(summary.file, join(dir, 'cli.tar.gz'));
    assert.equal(summary.agentWasRunning, true);
    assert.equal((await stat(join(dir, 'cli.tar.gz'))).mode & 0o777, 0o600);
    assert.equal(b.stdout.includes(token), false, 'the listing holds no secret');
    assert.deepEqual((await readdir(join(f.stateDir, 'agents', 'acme', 'cli'))).filter((n) => !n.startsWith('gateway.log') && !n.startsWith('shim.')).sort(), ['config.applied.json'], 'no staging left behind');

    const again = await human(f, dir, 'backup', 'acme/cli', '-o', 'cli.tar.gz');
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists; fleetctl never overwrites an archive/);

    const removed = await f.ctl('remove', 'agent', 'acme/cli', '--purge');
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(existsSync(home), false);
    assert.equal(existsSync(join(f.stateDir, 'agents', 'acme', 'cli')), false, "fleetd's own folder of the agent goes too");

    const r = await human(f, dir, 'restore', 'acme/cli', 'cli.tar.gz', '--json');
    assert.equal(r.code, 0, r.stderr);
    const restored = JSON.parse(r.stdout);
    assert.equal(restored.created, true);
    assert.equal(restored.started, true);
    assert.equal(restored.previousHome, null);
    await track('acme/cli');
    assert.equal((await f.ctl('token', 'acme/cli')).json.token, token, 'the archived token is back');
    assert.equal(await readFile(join(home, 'workspace', 'MEMORY.md'), 'utf8'), '# remembered\n');
    const back = JSON5.parse(await readFile(configPath, 'utf8'));
    assert.deepEqual(back.agents.defaults.heartbeat, { every: '2h' });
    assert.equal(back.logging.level, 'debug');
    assert.equal(back.gateway.port, restored.port, 'managed keys follow the block it holds now');
    assert.equal((await stat(home)).mode & 0o777, 0o700);
    assert.equal((await stat(configPath)).mode & 0o777, 0o600);
    const st = await f.ctl('status', 'acme/cli');
    assert.equal(st.json.agents[0].state, 'running');
    assert.equal(st.json.agents[0].source, 'cli');
  });

  test('a running agent is refused; a stopped one is restored, its previous home kept aside; --new-token gives a new token', async () => {
    const b = await human(f, dir, 'backup', 'acme/keep', '-o', 'keep.tar.gz');
    assert.equal(b.code, 0, b.stderr);
    const home = agentHome(f.stateDir, 'acme/keep');
    const before = await treeOf(home);
    const refused = await human(f, dir, 'restore', 'acme/keep', 'keep.tar.gz');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /acme\/keep is running; a restore replaces its home, so stop it first: `fleetctl stop agent acme\/keep`/);
    assert.deepEqual(await treeOf(home), before, 'nothing changed');

    assert.equal((await f.ctl('stop', 'agent', 'acme/keep')).code, 0);
    const token = (await f.ctl('token', 'acme/keep')).json.token;
    await writeFile(join(home, 'workspace', 'written-after-backup.txt'), 'x');
    const r = await f.ctl('restore', 'acme/keep', join(dir, 'keep.tar.gz'), '--new-token', '--no-start');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json.created, false);
    assert.equal(r.json.state, 'stopped');
    assert.match(r.json.previousHome, /agents\/acme\/keep\/replaced-home-/);
    assert.equal(existsSync(join(r.json.previousHome, 'workspace', 'written-after-backup.txt')), true, 'the replaced home is kept, not deleted');
    assert.equal(existsSync(join(home, 'workspace', 'written-after-backup.txt')), false);
    const newToken = (await f.ctl('token', 'acme/keep')).json.token;
    assert.notEqual(newToken, token);
    const config = JSON5.parse(await readFile(join(home, '.openclaw', 'openclaw.json'), 'utf8'));
    assert.equal(config.gateway.auth.token, newToken, 'openclaw.json carries the new token at once');
    assert.equal((await f.ctl('start', 'agent', 'acme/keep')).code, 0);
    await track('acme/keep');
  });

  test('an archive of another agent needs --new-token; a hostile archive is refused and nothing is written', async () => {
    const other = await f.ctl('restore', 'acme/copy', join(dir, 'cli.tar.gz'));
    assert.equal(other.code, 1);
    assert.match(other.json.error.message, /a backup of acme\/cli, not acme\/copy; restoring it onto another agent needs --new-token/);
    assert.equal(other.stderr, '', '--json: nothing on stderr');
    assert.equal((await f.ctl('status')).json.agents.some((a: any) => a.address === 'acme/copy'), false);

    // a valid-looking archive with one symlink entry among good ones
    const blocks: Buffer[] = [];
    const add = (path: string, type: string, data = '', linkpath = '') => {
      const h = new Header({ path, type: type as never, size: Buffer.byteLength(data), mode: 0o600, mtime: new Date(0), linkpath });
      h.encode();
      blocks.push(h.block!, Buffer.from(data), Buffer.alloc((512 - (Buffer.byteLength(data) % 512)) % 512));
    };
    add('home/', 'Directory');
    add('home/workspace/', 'Directory');
    add('home/workspace/evil', 'SymbolicLink', '', '/etc/shadow');
    blocks.push(Buffer.alloc(1024));
    await writeFile(join(dir, 'evil.tar.gz'), gzipSync(Buffer.concat(blocks)));
    assert.equal((await f.ctl('stop', 'agent', 'acme/cli')).code, 0);
    const home = agentHome(f.stateDir, 'acme/cli');
    const before = await treeOf(home);
    const r = await f.ctl('restore', 'acme/cli', join(dir, 'evil.tar.gz'));
    assert.equal(r.code, 1);
    assert.equal(r.json.error.code, 'ARCHIVE_INVALID');
    assert.match(r.json.error.message, /entry "home\/workspace\/evil": is a symbolic link.*nothing was written/);
    assert.deepEqual(await treeOf(home), before);
    assert.deepEqual((await readdir(join(f.stateDir, 'agents', 'acme', 'cli'))).filter((n) => !n.startsWith('gateway.log') && !n.startsWith('shim.')).sort(), ['config.applied.json'], 'no upload or extraction left behind');
    assert.equal((await f.ctl('start', 'agent', 'acme/cli')).code, 0);
    await track('acme/cli');
  });

  test('paths named on the command line: a missing archive, a folder, a device, a backup into a missing folder; each said as it is, before anything is downloaded', async () => {
    const cases: Array<[string[], number, RegExp]> = [
      [['restore', 'acme/keep', 'nofile'], 1, /^fleetctl: \S+\/nofile does not exist; give the archive written by fleetctl backup/],
      [['restore', 'acme/keep', '.'], 2, /^fleetctl: \S+ is a folder, not a file; give the archive written by fleetctl backup/],
      [['restore', 'acme/keep', '/dev/null'], 2, /^fleetctl: \/dev\/null is a character device, not a regular file; give the archive/],
      [['backup', 'acme/keep', '-o', 'no-such-folder/k.tar.gz'], 1, /^fleetctl: the folder \S+\/no-such-folder does not exist; create it, or choose another -o/],
    ];
    for (const [args, code, message] of cases) {
      const r = await human(f, dir, ...args);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.doesNotMatch(r.stderr, /is not a file|ENOENT/);
    }
    assert.equal(existsSync(join(dir, 'no-such-folder')), false);
  });
});
