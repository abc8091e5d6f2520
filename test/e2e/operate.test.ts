// End to end (fake gateway): operating the OpenClaw inside an agent. `fleetctl exec` runs
// commands as the agent (env, cwd, exit codes, signals, with and without a terminal);
// openclaw.json is shared: an OpenClaw-style write survives restart, reload and a fleetd
// restart, `config diff` shows it; secrets from files reach the gateway and no answer or
// log; OpenClaw's own log is readable, redacted.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, readFile, rename, writeFile, appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import JSON5 from 'json5';
import { waitFor } from '../../src/util/wait-for.js';
import { agentHome, cleanup, fakeInfo, fakeManifest, run, spawnCtl, startFleetd, stopFleetd, tempDir, waitAllDead, waitForAgent, waitForRunning, writeManifest, FLEETCTL, type Fleetd } from './harness.js';
import { readEnviron } from './real-harness.js';

/** fleetctl without --json. */
function human(f: Fleetd, ...args: string[]) {
  return run(process.execPath, [FLEETCTL, '--socket', f.socket, ...args]);
}

/** Rewrites openclaw.json the way OpenClaw does (whole file, temp + rename). */
async function openclawWrites(home: string, edit: (config: any) => void): Promise<void> {
  const path = join(home, '.openclaw', 'openclaw.json');
  const config = JSON5.parse(await readFile(path, 'utf8'));
  edit(config);
  await writeFile(`${path}.tmp`, JSON.stringify(config, null, 2), { mode: 0o600 });
  await rename(`${path}.tmp`, path);
}

const readConfig = async (home: string) => JSON5.parse(await readFile(join(home, '.openclaw', 'openclaw.json'), 'utf8'));

describe('operate: exec, config ownership, secrets, OpenClaw log', () => {
  let dir: string;
  let f: Fleetd;
  let manifest: Record<string, unknown>;
  const seen: number[] = [];
  const secret = `sk-test-${Math.random().toString(36).slice(2)}-0123456789`;
  const home = () => agentHome(f.stateDir, 'acme/one');
  const track = async () => {
    const info = await fakeInfo(f.stateDir, 'acme/one');
    seen.push(info.pid, info.helperPid, info.workerPid);
    return info;
  };

  before(async () => {
    dir = await tempDir();
    await writeFile(join(dir, 'anthropic'), `${secret}\n`, { mode: 0o600 });
    manifest = fakeManifest(
      {
        acme: {
          agents: {
            one: { env: { ANTHROPIC_API_KEY: { file: join(dir, 'anthropic') }, PLAIN: 'plain-value' }, config: { logging: { level: 'debug' } } },
            pinned: { enabled: false, gateway: { openclaw: '9.9.9' } },
          },
        },
      },
      { runtimesDir: './runtimes' },
    );
    f = await startFleetd(dir, manifest, { waitRunning: 1 });
    await track();
  });

  after(async () => {
    if (f) assert.equal(await stopFleetd(f), 0);
    await waitAllDead(seen);
    // the secret value reached no line fleetd logged, whatever happened above
    if (f) assert.equal(f.output().includes(secret), false, 'secret in fleetd output');
    await cleanup(dir);
  });

  test('exec runs as the agent: its home as cwd, its clean env with the secret, supervisor mode external', async () => {
    const r = await human(f, 'exec', 'acme/one', '--', 'sh', '-c', 'pwd; echo "$HOME|$OPENCLAW_SUPERVISOR_MODE|$OPENCLAW_STATE_DIR|$PLAIN|$ANTHROPIC_API_KEY|${FLEETD_SOCKET:-unset}"');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${home()}\n${home()}|external|${home()}/.openclaw|plain-value|${secret}|unset\n`);
  });

  test('the exit code is the command\'s; a signal gives 128+N; a missing command 127', async () => {
    assert.equal((await human(f, 'exec', 'acme/one', '--', 'sh', '-c', 'exit 7')).code, 7);
    assert.equal((await human(f, 'exec', 'acme/one', 'sh', '-c', 'kill -TERM $$')).code, 143);
    const missing = await human(f, 'exec', 'acme/one', '--', 'no-such-command-xyz');
    assert.equal(missing.code, 127);
    assert.match(missing.stderr, /no-such-command-xyz: command not found on the agent's PATH/);
  });

  test('stdin passes through; without a terminal the command sees none, with one (script) it sees a TTY', async () => {
    const piped = await run(process.execPath, [FLEETCTL, '--socket', f.socket, 'exec', 'acme/one', '--', 'sh', '-c', 'read line; echo "got $line"; [ -t 0 ] && echo tty || echo notty'], { input: 'hello\n' });
    assert.equal(piped.stdout, 'got hello\nnotty\n');
    const inner = `${process.execPath} ${FLEETCTL} --socket ${f.socket} exec acme/one -- sh -c '[ -t 0 ] && [ -t 1 ] && echo TTY-IN-AND-OUT || echo NO-TTY'`;
    const tty = await run('script', ['-qec', inner, '/dev/null']);
    assert.equal(tty.code, 0, tty.stderr);
    assert.match(tty.stdout, /TTY-IN-AND-OUT/);
  });

  test('Ctrl-C on the terminal reaches the command; fleetctl outlives it and exits 130', async () => {
    const inner = `${process.execPath} ${FLEETCTL} --socket ${f.socket} exec acme/one -- sh -c 'echo READY; sleep 60'`;
    const child = spawn('script', ['-qec', inner, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await waitFor(() => out.includes('READY'), { timeoutMs: 15_000, what: 'the command to start' });
    child.stdin.write('\x03'); // the terminal's interrupt character: SIGINT to the foreground process group
    assert.equal(await exited, 130);
  });

  test('refused clearly: an unknown agent, a runtime not installed yet', async () => {
    const unknown = await human(f, 'exec', 'acme/nobody', '--', 'true');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no agent acme\/nobody/);
    const pinned = await human(f, 'openclaw', 'acme/pinned', '--version');
    assert.equal(pinned.code, 1);
    assert.match(pinned.stderr, /OpenClaw 9\.9\.9, which is not installed yet; install it with `fleetctl runtime install 9\.9\.9`/);
    const empty = await human(f, 'exec', 'acme/one');
    assert.equal(empty.code, 2);
  });

  test('the secret reaches the gateway\'s environment, and no answer: status, config show/diff, exec spec', async () => {
    const info = await fakeInfo(f.stateDir, 'acme/one');
    assert.equal(readEnviron(info.pid)['ANTHROPIC_API_KEY'], secret);
    for (const args of [['status'], ['config', 'show', 'acme/one'], ['config', 'diff', 'acme/one']]) {
      const r = await f.ctl(...args);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.includes(secret), false, args.join(' '));
    }
    const spec = await run('curl', ['-s', '--unix-socket', f.socket, 'http://x/v1/agents/acme/one/exec']);
    assert.equal(spec.stdout.includes(secret), false);
    assert.deepEqual(JSON.parse(spec.stdout).secrets.ANTHROPIC_API_KEY.path, join(dir, 'anthropic'));
  });

  test('an OpenClaw write to openclaw.json survives restart agent, and config diff shows it as OpenClaw\'s', async () => {
    await openclawWrites(home(), (c) => {
      c.agents.defaults.heartbeat = { every: '2h' };
      c.meta = { lastTouchedVersion: '2026.9.6' };
      c.channels = { telegram: { botToken: '123456:secret-bot-token' } };
    });
    const diff = await f.ctl('config', 'diff', 'acme/one');
    assert.deepEqual(diff.json.openclaw.map((k: any) => k.path.join('.')), ['agents.defaults.heartbeat', 'meta', 'channels']);
    assert.deepEqual(diff.json.changes, []);
    assert.equal(diff.stdout.includes('secret-bot-token'), false, 'channel tokens OpenClaw wrote are redacted');
    const restart = await f.ctl('restart', 'agent', 'acme/one');
    assert.equal(restart.code, 0, restart.stderr);
    await track();
    const config = await readConfig(home());
    assert.deepEqual(config.agents.defaults.heartbeat, { every: '2h' });
    assert.equal(config.channels.telegram.botToken, '123456:secret-bot-token');
  });

  test('a manifest key OpenClaw changed is announced by config diff and wins at the next start', async () => {
    await openclawWrites(home(), (c) => (c.logging.level = 'trace'));
    const diff = await f.ctl('config', 'diff', 'acme/one');
    assert.deepEqual(diff.json.changes, [{ kind: 'override', path: ['logging', 'level'], current: 'trace', next: 'debug' }]);
    const text = await human(f, 'config', 'diff', 'acme/one');
    assert.match(text.stdout, /! logging\.level: "trace" -> "debug"/);
    assert.equal((await f.ctl('restart', 'agent', 'acme/one')).code, 0);
    await track();
    const config = await readConfig(home());
    assert.equal(config.logging.level, 'debug');
    assert.deepEqual(config.agents.defaults.heartbeat, { every: '2h' }, 'OpenClaw\'s own keys still there');
  });

  test('OpenClaw\'s keys survive a reload that changes the agent, and a fleetd restart', async () => {
    const agents = (manifest.fleets as any).acme.agents;
    agents.one.config = { logging: { level: 'info' }, session: { dmScope: 'main' } };
    await writeManifest(dir, manifest);
    const reload = await f.ctl('reload');
    assert.equal(reload.code, 0, reload.stderr);
    assert.ok(reload.json.actions.some((a: any) => a.kind === 'reconfigure' && a.address === 'acme/one'));
    await waitFor(async () => (await readConfig(home())).logging.level === 'info', { timeoutMs: 15_000, what: 'the reload to apply' });
    await waitForAgent(f, 'acme/one', (a) => a.state === 'running');
    await track();
    let config = await readConfig(home());
    assert.equal(config.session.dmScope, 'main');
    assert.deepEqual(config.agents.defaults.heartbeat, { every: '2h' });

    assert.equal(await stopFleetd(f), 0);
    f = await startFleetd(dir, manifest, { waitRunning: 1 });
    await track();
    config = await readConfig(home());
    assert.deepEqual(config.agents.defaults.heartbeat, { every: '2h' });
    assert.equal(config.meta.lastTouchedVersion, '2026.9.6');
    // the manifest drops session.dmScope, which OpenClaw never touched: it goes, OpenClaw's keys stay
    agents.one.config = { logging: { level: 'info' } };
    await writeManifest(dir, manifest);
    assert.equal((await f.ctl('reload')).code, 0);
    await waitFor(async () => (await readConfig(home())).session === undefined, { timeoutMs: 15_000, what: 'the dropped key to go' });
    await waitForAgent(f, 'acme/one', (a) => a.state === 'running');
    await track();
    assert.deepEqual((await readConfig(home())).agents.defaults.heartbeat, { every: '2h' });
  });

  test('logs --openclaw: OpenClaw\'s own log, redacted, -n bounded, -f follows', async () => {
    const token = (await f.ctl('token', 'acme/one')).json.token as string;
    const log = join(home(), 'logs', 'openclaw.log');
    await appendFile(log, `{"n":1}\n{"n":2,"msg":"auth ${token}"}\n{"n":3,"msg":"key ${secret}"}\n`);
    const r = await f.ctl('logs', 'acme/one', '--openclaw', '-n', '2');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.json.lines, ['{"n":2,"msg":"auth <redacted>"}', '{"n":3,"msg":"key <redacted>"}']);
    assert.equal(r.json.file, log);
    const follow = spawnCtl(f, 'logs', 'acme/one', '--openclaw', '-n', '0', '-f');
    try {
      // the token split across two writes is still caught
      await waitFor(async () => {
        await appendFile(log, '{"tick":1}\n');
        return follow.stdout().includes('{"tick":1}');
      }, { timeoutMs: 10_000, intervalMs: 300, what: 'the follow to start' });
      await appendFile(log, `{"n":4,"msg":"${token.slice(0, 20)}`);
      await appendFile(log, `${token.slice(20)}"}\n`);
      await waitFor(() => follow.stdout().includes('"n":4'), { timeoutMs: 10_000, what: 'the followed line' });
      assert.match(follow.stdout(), /\{"n":4,"msg":"<redacted>"\}/);
      assert.equal(follow.stdout().includes(token.slice(0, 20)), false);
    } finally {
      follow.child.kill('SIGINT');
      await follow.exited;
    }
  });

  test('a secret file that becomes world-readable stops the next start with a clear reason, never the value', async () => {
    assert.equal((await f.ctl('stop', 'agent', 'acme/one')).code, 0);
    await chmod(join(dir, 'anthropic'), 0o644);
    try {
      const r = await f.ctl('start', 'agent', 'acme/one');
      assert.equal(r.code, 1);
      const all = r.stdout + r.stderr;
      assert.match(all, /env ANTHROPIC_API_KEY of acme\/one \(file .*anthropic, declared at .*fleets\.json5: fleets\.acme\.agents\.one\.env\.ANTHROPIC_API_KEY\).*mode 0644/s);
      assert.equal(all.includes(secret), false);
      const st = await f.ctl('status', 'acme/one');
      assert.equal(st.json.agents[0].state, 'failed');
      assert.match(st.json.agents[0].reason, /readable by its group or by others/);
    } finally {
      await chmod(join(dir, 'anthropic'), 0o600);
    }
    assert.equal((await f.ctl('start', 'agent', 'acme/one')).code, 0);
    await waitForRunning(f, 1);
    await track();
  });
});
