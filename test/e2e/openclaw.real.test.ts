// End to end against the REAL OpenClaw gateway: the built fleetd runs two real agents from
// the shared runtime cache, and the built fleetctl drives them. The tests run in order on
// one fleetd (booting a real gateway costs ~1 GB and ~9 s of CPU); never more than two
// real gateways run at a time. Every process of every gateway tree seen is remembered and
// must be gone at the end.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { randomBytes } from 'node:crypto';
import { defaultRuntimeCacheDir } from '../../src/runtime/cache-dir.js';
import type { ProcRef } from '../../src/supervise/proc.js';
import { waitFor } from '../../src/util/wait-for.js';
import { alive, cleanup, startFleetd, status, stopFleetd, tempDir, type Fleetd } from './harness.js';
import {
  changedFiles,
  FIRST_START_TIMEOUT_MS,
  gatewayTree,
  hasSs,
  httpRequest,
  invokeTool,
  isLoopback,
  listeningSockets,
  livingRefs,
  openFiles,
  processesMentioning,
  readEnviron,
  realManifest,
  snapshotFiles,
  trackTrees,
  waitRefsDead,
  type FileMark,
} from './real-harness.js';

const SHARED_TMP = '/tmp/openclaw';
const LOCKS_DIR = `/tmp/openclaw-state-locks-${process.getuid?.() ?? 0}`;
const AGENTS = ['acme/one', 'acme/two'] as const;
/** Variables set in fleetd's env that no gateway may inherit. */
const MARKED = ['FLEETD_TEST_SECRET', 'INVOCATION_ID', 'JOURNAL_STREAM', 'SYSTEMD_EXEC_PID', 'NODE_COMPILE_CACHE', 'OPENCLAW_FOO'] as const;
const BOOT_MS = 180_000;

describe('real OpenClaw gateways under fleetd', { timeout: 15 * 60_000 }, () => {
  const suiteStart = Date.now();
  const seen = new Map<string, ProcRef>();
  const marks: Record<string, string> = {};
  let dir = '';
  let f: Fleetd;
  let base = 0;
  let tmpBefore: Map<string, FileMark>;
  let badReason = '';
  let tmpExisted = false;
  const home = (address: string) => join(f.stateDir, 'fleets', ...address.split('/'));
  const agent = async (address: string) => (await status(f)).find((a) => a.address === address);
  /** Polls `fleetctl status` once a second (each fleetctl run costs CPU the booting gateways need). */
  const waitAgent = (address: string, pred: (a: any) => boolean, timeoutMs = BOOT_MS) =>
    waitFor(async () => {
      const a = await agent(address);
      return a && pred(a) ? a : undefined;
    }, { timeoutMs, intervalMs: 1000, what: `${address} to match` });
  const track = async () => trackTrees(seen, (await status(f)).map((a) => a.pid));

  before(async () => {
    tmpExisted = existsSync(SHARED_TMP);
    tmpBefore = await snapshotFiles(SHARED_TMP);
    dir = await tempDir();
    const secret = randomBytes(16).toString('hex');
    Object.assign(marks, {
      FLEETD_TEST_SECRET: `secret-${secret}`,
      INVOCATION_ID: `invocation-${secret}`,
      JOURNAL_STREAM: `8:${parseInt(secret.slice(0, 6), 16)}`,
      SYSTEMD_EXEC_PID: String(process.pid),
      NODE_COMPILE_CACHE: join(dir, 'compile-cache'),
      OPENCLAW_FOO: `foo-${secret}`,
    });
    const manifest = realManifest({ acme: { agents: { one: {}, two: {} } } });
    base = (manifest.ports as { base: number }).base;
    f = await startFleetd(dir, manifest, { env: { ...process.env, ...marks } });
    // On a fresh machine fleetd installs the runtime first (minutes); here it is cached.
    const settled = await waitFor(async () => {
      const agents = await status(f);
      const done = agents.every((a) => a.state === 'running') || agents.some((a) => a.state === 'failed');
      return done ? agents : undefined;
    }, { timeoutMs: FIRST_START_TIMEOUT_MS, intervalMs: 1000, what: 'two real gateways running' });
    assert.deepEqual(settled.map((a) => a.state), ['running', 'running'], settled.map((a) => `${a.address}: ${a.reason}`).join('\n'));
    await track();
  }, { timeout: FIRST_START_TIMEOUT_MS + 60_000 });

  after(async () => {
    if (f) {
      if (f.child.exitCode === null && f.child.signalCode === null) await stopFleetd(f);
      // Last resort for a failed run: our own gateway processes only, by pid + start time.
      for (const ref of livingRefs(seen.values())) {
        try {
          process.kill(ref.pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
    }
    if (dir) await cleanup(dir);
    process.stderr.write(`real OpenClaw suite wall time: ${((Date.now() - suiteStart) / 1000).toFixed(1)} s\n`);
  });

  test('1. both gateways answer /healthz and /startupz on their own ports, on loopback', async () => {
    const agents = await status(f);
    assert.deepEqual(agents.map((a) => [a.address, a.state, a.port, a.runtime]), [
      ['acme/one', 'running', base, 'openclaw@2026.9.6'],
      ['acme/two', 'running', base + 100, 'openclaw@2026.9.6'],
    ]);
    for (const a of agents) {
      for (const host of ['127.0.0.1', '[::1]']) {
        const health = await httpRequest(`http://${host}:${a.port}/healthz`);
        assert.equal(health.status, 200, `${a.address} ${host} /healthz: ${health.body}`);
        assert.deepEqual(JSON.parse(health.body), { ok: true, status: 'live' });
      }
      const started = await waitFor(async () => {
        const r = await httpRequest(`http://127.0.0.1:${a.port}/startupz`);
        return r.status === 200 ? r : undefined;
      }, { timeoutMs: 60_000, intervalMs: 500, what: `${a.address} /startupz 200` });
      assert.equal(JSON.parse(started.body).status, 'started');
      assert.equal(JSON.parse(started.body).version, '2026.9.6');
    }
  });

  test('1b. every listening socket of each gateway tree is on 127.0.0.1 or ::1, inside its port block', {
    skip: hasSs() ? false : 'ss (iproute2) is not installed: the listening-address check is skipped',
  }, async () => {
    const sockets = listeningSockets();
    for (const a of await status(f)) {
      const pids = new Set(gatewayTree(a.pid).map((r) => r.pid));
      const mine = sockets.filter((s) => s.pids.some((p) => pids.has(p)));
      const where = mine.map((s) => s.line).join('\n');
      assert.ok(mine.some((s) => s.address === '127.0.0.1' && s.port === a.port), `${a.address} listens on 127.0.0.1:${a.port}:\n${where}`);
      assert.ok(mine.some((s) => s.address === '::1' && s.port === a.port), `${a.address} listens on [::1]:${a.port}:\n${where}`);
      for (const s of mine) {
        assert.ok(isLoopback(s.address), `${a.address} listens on a non-loopback address: ${s.line}`);
        assert.ok(s.port >= a.port && s.port < a.port + 100, `${a.address} listens outside its block: ${s.line}`);
      }
    }
  });

  test('2. files stay in each home, nothing lands in /tmp/openclaw, no marked variable reaches a gateway', async (t) => {
    t.diagnostic(`${SHARED_TMP} before the suite: ${tmpExisted ? `${tmpBefore.size} files` : 'absent'}; now: ${existsSync(SHARED_TMP) ? 'present' : 'absent'}`);
    const runtimesDir = defaultRuntimeCacheDir();
    for (const a of await status(f)) {
      const h = home(a.address);
      const tree = gatewayTree(a.pid);
      assert.ok(tree.length >= 2, `${a.address}: the tree has its spawn broker (${tree.map((r) => r.pid)})`);
      const env = readEnviron(a.pid);
      assert.equal(env['HOME'], h);
      assert.equal(env['OPENCLAW_STATE_DIR'], join(h, '.openclaw'));
      assert.equal(env['OPENCLAW_PROFILE'], a.address.replace('/', '-'));
      for (const name of MARKED) assert.equal(env[name], undefined, `${a.address} inherited ${name}`);
      for (const ref of tree) {
        const values = Object.values(readEnviron(ref.pid));
        for (const name of MARKED) {
          if (name === 'SYSTEMD_EXEC_PID') continue; // a pid number may be any value of a child
          assert.ok(!values.some((v) => v.includes(marks[name]!)), `pid ${ref.pid} of ${a.address} has the value of fleetd's ${name}`);
        }
        // Every file the tree holds open is its own, the runtime's, or a known host-global lock.
        for (const path of openFiles(ref.pid)) {
          const ok =
            path.startsWith(h + sep) ||
            path.startsWith(runtimesDir + sep) ||
            path.startsWith('/dev/') ||
            path.startsWith('/proc/') ||
            (path.startsWith(LOCKS_DIR + sep) && !path.includes('acme'));
          assert.ok(ok, `pid ${ref.pid} of ${a.address} holds ${path} open, outside its home`);
        }
      }
      const log = await stat(join(h, 'logs', 'openclaw.log'));
      assert.ok(log.size > 0, 'OpenClaw logs into the home');
    }
    await assertNothingInSharedTmp();
  });

  test('3. /tools/invoke: 401 with the other agent’s token or none, past auth with its own', async () => {
    const agents = await status(f);
    const tokens: Record<string, string> = {};
    for (const a of agents) {
      const r = await f.ctl('token', a.address);
      assert.equal(r.code, 0, r.stderr);
      tokens[a.address] = r.json.token;
    }
    assert.notEqual(tokens['acme/one'], tokens['acme/two']);
    for (const a of agents) {
      const other = AGENTS.find((x) => x !== a.address)!;
      const own = await invokeTool(a.port, tokens[a.address]);
      assert.notEqual(own.status, 401, `${a.address} refused its own token: ${own.body}`);
      assert.equal((await invokeTool(a.port, tokens[other])).status, 401, `${a.address} accepted ${other}'s token`);
      assert.equal((await invokeTool(a.port, undefined)).status, 401, `${a.address} accepted no token`);
    }
  });

  test('4. kill -9 of one gateway: back on the same port with a new pid, the other untouched', async () => {
    const [one, two] = await status(f);
    const victim = trackTrees(seen, [two.pid]);
    process.kill(two.pid, 'SIGKILL');
    const back = await waitAgent('acme/two', (a) => a.state === 'running' && a.pid !== two.pid);
    assert.equal(back.port, two.port);
    assert.equal(back.restarts, two.restarts + 1);
    assert.deepEqual([back.lastExit.code, back.lastExit.signal], [null, 'SIGKILL']);
    await waitRefsDead(victim, 10_000); // the broker and workers went with it
    assert.equal((await httpRequest(`http://127.0.0.1:${two.port}/healthz`)).status, 200);
    assert.equal((await agent('acme/one')).pid, one.pid, 'acme/one keeps its pid');
    assert.ok(alive(one.pid));
    await track();
  });

  test('5. fleetctl restart stops the gateway with SIGTERM; OpenClaw exits 0 and logs its clean shutdown', async () => {
    const before = await agent('acme/one');
    const tree = trackTrees(seen, [before.pid]);
    const logFile = join(f.stateDir, 'agents', 'acme', 'one', 'gateway.log');
    const offset = (await stat(logFile)).size;
    const r = await f.ctl('restart', 'agent', 'acme/one');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json.agent.state, 'running');
    assert.notEqual(r.json.agent.pid, before.pid);
    await waitRefsDead(tree, 10_000);
    const now = await agent('acme/one');
    assert.deepEqual([now.lastExit.code, now.lastExit.signal], [0, null], JSON.stringify(now.lastExit));
    const log = (await readFile(logFile, 'utf8')).slice(offset);
    assert.match(log, /received SIGTERM; shutting down/);
    assert.match(log, /\[shutdown\] completed cleanly/);
    assert.match(log, new RegExp(`pid ${before.pid} exited with code 0`));
    assert.doesNotMatch(f.output(), /SIGKILLed processes that outlived SIGTERM/);
    await track();
  });

  test('6. a config OpenClaw refuses ends failed with its message (exit 78), and is not restarted', async () => {
    // Keep to two real gateways: acme/two steps aside while acme/bad tries to boot.
    const two = await agent('acme/two');
    trackTrees(seen, [two.pid]);
    const stopped = await f.ctl('stop', 'agent', 'acme/two');
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal(stopped.json.agent.state, 'stopped');
    assert.deepEqual([stopped.json.agent.lastExit.code, stopped.json.agent.lastExit.signal], [0, null]);

    const added = await f.ctl('add', 'agent', 'acme/bad', '--set', 'notARealKey=true');
    assert.equal(added.code, 1, 'fleetctl says the agent did not start');
    const failed = await waitAgent('acme/bad', (a) => a.state === 'failed', 60_000);
    assert.equal(failed.lastExit.code, 78);
    assert.equal(failed.restarts, 0);
    assert.equal(failed.pid, null);
    assert.match(failed.reason, /^exited with code 78 after .*, not restarted because OpenClaw refused its configuration; it said: /);
    badReason = failed.reason;
    // The rest of the reason is what OpenClaw printed: every piece of it is in the captured log.
    const badLog = join(f.stateDir, 'agents', 'acme', 'bad', 'gateway.log');
    const text = await readFile(badLog, 'utf8');
    const said = failed.reason.slice(failed.reason.indexOf('it said: ') + 'it said: '.length).replace(/\.\.\.$/, '').split(' | ');
    assert.ok(said.length > 0 && said.every((line: string) => line.length > 10 && text.includes(line)), `${JSON.stringify(said)} not in:\n${text}`);
    assert.match(text, /Unrecognized key: "notARealKey"/, 'OpenClaw named the key in its output');
    const broker = /spawn broker ready pid=(\d+)/.exec(text);
    if (broker) await waitFor(() => !alive(Number(broker[1])), { timeoutMs: 10_000, what: 'the refused gateway’s broker to exit' });

    // Meanwhile (seconds: many backoff delays and status polls) acme/two comes back.
    const started = await f.ctl('start', 'agent', 'acme/two');
    assert.equal(started.code, 0, started.stderr);
    await waitAgent('acme/two', (a) => a.state === 'running');
    const still = await agent('acme/bad');
    assert.deepEqual([still.state, still.restarts, still.pid, still.lastExit.at], ['failed', 0, null, failed.lastExit.at]);
    assert.equal((await readFile(badLog, 'utf8')).match(/spawned pid/g)?.length, 1, 'spawned exactly once');
    await track();
  });

  test('6b. the failed reason names the key OpenClaw refused', () => {
    assert.match(badReason, /notARealKey/);
  });

  test('7. fleetd SIGTERM exits 0 and leaves no gateway process or child behind', async (t) => {
    const trees = await track();
    assert.ok(trees.length >= 4, `two gateway trees tracked (${trees.length} processes)`);
    assert.equal(await stopFleetd(f), 0);
    await waitRefsDead(seen.values(), 15_000);
    assert.deepEqual(processesMentioning(f.stateDir), [], 'no process left that names the state dir');
    await assertNothingInSharedTmp();
    const locks = existsSync(LOCKS_DIR) ? [...(await snapshotFiles(LOCKS_DIR)).keys()].length : 0;
    t.diagnostic(`${seen.size} gateway processes seen, all gone; ${locks} host-global lock files in ${LOCKS_DIR} (OpenClaw's, named by hash)`);
    t.diagnostic(`suite wall time so far: ${((Date.now() - suiteStart) / 1000).toFixed(1)} s`);
  });

  /** New or changed files in /tmp/openclaw must not be ours (another OpenClaw on the host may write there). */
  async function assertNothingInSharedTmp(): Promise<void> {
    const changed = changedFiles(tmpBefore, await snapshotFiles(SHARED_TMP));
    const needles = [dir, 'acme-one', 'acme-two', 'acme-bad'].map((n) => new RegExp(n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    // Ports as a gateway prints them (":48300", "port 48300", "port=48300"), not any 5 digits of a timestamp.
    for (const port of [base, base + 100, base + 200]) needles.push(new RegExp(`(?:port["'=:\\s]{1,3}|:)${port}\\b`));
    for (const path of changed) {
      const text = await readFile(path, 'utf8').catch(() => '');
      const hit = needles.find((n) => n.test(text));
      assert.equal(hit, undefined, `${path} matches ${hit}: one of our gateways wrote to the shared ${SHARED_TMP}`);
    }
  }
});
