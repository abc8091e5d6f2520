// The built fleetctl as a real process: against no daemon, and against a fixture HTTP
// server on a temp Unix socket that answers canned bodies.
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../util/wait-for.js';
import { agentView, statusBody } from '../../test/support/cli/canned.js';
import { startFixtureServer, type Answer, type FixtureServer } from '../../test/support/cli/fixture-server.js';
import { cleanEnv, runFleetctl, startFleetctl } from '../../test/support/cli/run-bin.js';
import { SYSTEM_SOCKET } from './socket-path.js';
import { REPO } from '../../test/support/paths.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fleetd-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('no daemon', () => {
  test('exit 3 with how to start fleetd (FLEETD_SOCKET)', async () => {
    const socket = join(dir, 'none.sock');
    const r = await runFleetctl(['status'], { env: cleanEnv({ FLEETD_SOCKET: socket }) });
    assert.equal(r.exitCode, 3);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /fleetd is not reachable at .*none\.sock/);
    assert.match(r.stderr, /fleetd start --manifest/);
  });

  test('--json: the error document on stdout, nothing on stderr; without --json the message on stderr only', async () => {
    const socket = join(dir, 'none.sock');
    const r = await runFleetctl(['token', 'acme/korax', '--socket', socket, '--json']);
    assert.equal(r.exitCode, 3);
    const doc = JSON.parse(r.stdout) as { error: { code: string; message: string } };
    assert.equal(doc.error.code, 'DAEMON_UNREACHABLE');
    assert.match(doc.error.message, /none\.sock/);
    assert.equal(r.stderr, '');
    const text = await runFleetctl(['token', 'acme/korax', '--socket', socket]);
    assert.deepEqual([text.exitCode, text.stdout], [3, '']);
    assert.match(text.stderr, /^fleetctl: fleetd is not reachable/);
  });

  test('--json, every command: an error is one JSON document, on one line, on stdout and stderr stays empty (usage errors too)', async () => {
    const socket = join(dir, 'none.sock');
    const archive = join(dir, 'a.tar.gz');
    await writeFile(archive, 'x');
    const unreachable = [
      ['status'], ['status', 'acme'], ['add', 'agent', 'acme/new'], ['remove', 'agent', 'acme/k'],
      ['start', 'agent', 'acme/k'], ['start', 'fleet', 'acme'], ['start', '--all'],
      ['stop', 'agent', 'acme/k'], ['stop', 'fleet', 'acme'], ['stop', '--all'],
      ['restart', 'agent', 'acme/k'], ['restart', 'fleet', 'acme'],
      ['logs', 'acme/k'], ['logs', 'acme/k', '-f'], ['logs', 'acme/k', '--openclaw'],
      ['reload'], ['reload', '--dry-run'], ['token', 'acme/k'], ['token', 'acme/k', '--hooks'], ['federation'],
      ['runtime', 'list'], ['runtime', 'install', '2026.9.6'], ['runtime', 'remove', '2026.9.6'], ['runtime', 'prune'],
      ['config', 'show', 'acme/k'], ['config', 'diff', 'acme/k'], ['backup', 'acme/k', '-o', join(dir, 'b.tar.gz')], ['restore', 'acme/k', archive],
      ['upgrade', 'acme', '--to', '2026.9.6'], ['upgrade', 'status'], ['events'], ['events', '-f'],
      ['daemon', 'restart'], ['daemon', 'stop'],
    ];
    const usage = [['stop'], ['restart'], ['logs'], ['upgrade', 'acme'], ['bogus'], ['status', 'a/b/c'], ['restore', 'acme/k', join(dir, 'missing.tar.gz')]];
    for (const [args, code, errorCode] of [...unreachable.map((a) => [a, 3, 'DAEMON_UNREACHABLE'] as const), ...usage.map((a) => [a, -1, ''] as const)]) {
      const r = await runFleetctl([...args, '--json', '--socket', socket]);
      const what = args.join(' ');
      assert.equal(r.stderr, '', `${what}: stderr`);
      assert.ok(r.exitCode === code || (code === -1 && r.exitCode >= 1 && r.exitCode <= 2), `${what}: exit ${r.exitCode}`);
      // one line: a reader of an NDJSON stream (stop --all, events -f ...) parses it like any record
      assert.equal(r.stdout.trimEnd().split('\n').length, 1, `${what}: the error is one line: ${r.stdout}`);
      const doc = JSON.parse(r.stdout) as { error: { code: string; message: string } };
      assert.ok(doc.error.message.length > 0, what);
      if (errorCode) assert.equal(doc.error.code, errorCode, what);
    }
  });

  test('default socket is ./fleetd-state/fleetd.sock under the cwd', { skip: existsSync(SYSTEM_SOCKET) && 'a system fleetd socket exists here' }, async () => {
    const r = await runFleetctl(['status'], { cwd: dir });
    assert.equal(r.exitCode, 3);
    assert.ok(r.stderr.includes(join(dir, 'fleetd-state', 'fleetd.sock')), r.stderr);
  });
});

describe('help and version', () => {
  test('--version prints package.json version; help exits 0', async () => {
    const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string };
    const version = await runFleetctl(['--version']);
    assert.deepEqual([version.exitCode, version.stdout], [0, `${pkg.version}\n`]);
    const help = await runFleetctl(['--help']);
    assert.equal(help.exitCode, 0);
    assert.match(help.stdout, /fleetctl logs acme\/korax -f/);
    assert.match(help.stdout, /FLEETD_SOCKET/);
    const sub = await runFleetctl(['help', 'restart']);
    assert.equal(sub.exitCode, 0);
    assert.match(sub.stdout, /rolling restart: every agent of a fleet/);
  });
  test('a verb without its subcommand is a usage error', async () => {
    const r = await runFleetctl(['restart']);
    assert.equal(r.exitCode, 2);
    assert.match(r.stderr, /Usage: fleetctl restart/);
  });
});

describe('against a fixture server', () => {
  let server: FixtureServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });
  async function serve(answers: Record<string, Answer>): Promise<FixtureServer> {
    server = await startFixtureServer(dir, answers);
    return server;
  }

  test('status: table sorted by address', async () => {
    const s = await serve({ 'GET /v1/agents': { json: statusBody() } });
    const r = await runFleetctl(['status', '--socket', s.socket]);
    assert.equal(r.exitCode, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^ADDRESS +STATE +PID +PORT +UPTIME +HEALTHY +RESTARTS +EXIT +HEALTH +MEMORY +OPENCLAW +NODE +REASON$/);
    assert.deepEqual(lines.slice(1).map((l) => l.split(/ +/)[0]), ['acme/alpha', 'acme/korax', 'beta/zed']);
    assert.match(lines[2]!, /^acme\/korax +backoff +- +18900 +- +- +3 +1 +- +- +2026\.9\.6 +24\.21\.0 +exited with code 1$/);
    assert.match(lines[1]!, /starting .* unready .*waiting for readiness; readiness failing: discord$/);
  });

  test('status warns on stderr when registry.json lags behind or fleetd dropped log lines', async () => {
    const body = statusBody();
    body.daemon.registryBehind = { since: Date.now() - 65_000, error: 'ENOSPC: no space left on device', retryAt: Date.now() + 4000 };
    body.daemon.logDropped = 12;
    const s = await serve({ 'GET /v1/agents': { json: body } });
    const r = await runFleetctl(['status', '--socket', s.socket]);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stderr, /registry\.json is behind for 1\.\d min \(ENOSPC: no space left on device\)/);
    assert.match(r.stderr, /dropped 12 of its own log lines/);
  });

  test('status --json: the daemon document, filtered by fleet, in any option position', async () => {
    const s = await serve({ 'GET /v1/agents': { json: { ...statusBody(), extra: 'kept' } } });
    const r = await runFleetctl(['--socket', s.socket, 'status', 'acme', '--json']);
    assert.equal(r.exitCode, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { extra: string; agents: { address: string }[] };
    assert.equal(doc.extra, 'kept');
    assert.deepEqual(doc.agents.map((a) => a.address), ['acme/korax', 'acme/alpha']);
  });

  test('status --json prints the views unchecked (a newer fleetd\'s state this fleetctl does not know), still refuses a filter that matches nothing and an answer that is no object', async () => {
    const body = statusBody();
    const s = await serve({ 'GET /v1/agents': { json: { ...body, agents: body.agents.map((a) => ({ ...a, state: 'hibernating' })) } } });
    const r = await runFleetctl(['--socket', s.socket, 'status', '--json']);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.deepEqual((JSON.parse(r.stdout) as { agents: { state: string }[] }).agents.map((a) => a.state), body.agents.map(() => 'hibernating'));
    const none = await runFleetctl(['--socket', s.socket, 'status', 'acme/nobody', '--json']);
    assert.equal(none.exitCode, 1);
    assert.match(none.stdout + none.stderr, /acme\/nobody/);
    await s.close(); // same socket path: one fixture at a time
    const bad = await serve({ 'GET /v1/agents': { json: [1, 2] } });
    const r2 = await runFleetctl(['--socket', bad.socket, 'status', '--json']);
    assert.notEqual(r2.exitCode, 0);
    assert.match(r2.stdout + r2.stderr, /not a JSON object/);
  });

  test('status --json: an answer not shaped like a status answer is a protocol mismatch (INTERNAL), with or without a filter', async () => {
    const body = statusBody();
    const shapes: unknown[] = [{ agents: [null, 1] }, { ...body, agents: [null, 1] }, { ...body, agents: [{ ...body.agents[0], address: 7 }] }, { agents: body.agents }, { daemon: body.daemon }];
    for (const json of shapes) {
      const s = await serve({ 'GET /v1/agents': { json } });
      for (const args of [['status', '--json'], ['status', 'acme', '--json']]) {
        const r = await runFleetctl(['--socket', s.socket, ...args]);
        const what = `${JSON.stringify(json).slice(0, 60)} ${args.join(' ')}`;
        assert.equal(r.exitCode, 1, what);
        const doc = JSON.parse(r.stdout) as { error: { code: string; message: string } };
        assert.equal(doc.error.code, 'INTERNAL', what);
        assert.match(doc.error.message, /does not match this fleetctl's protocol/, what);
      }
      await s.close();
      server = undefined;
    }
  });

  test('status with a filter that matches nothing: exit 1', async () => {
    const s = await serve({ 'GET /v1/agents': { json: statusBody() } });
    const r = await runFleetctl(['status', 'acme/nobody', '--socket', s.socket]);
    assert.equal(r.exitCode, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /no agent acme\/nobody; agents of acme: alpha, korax \(`fleetctl status` lists every agent\)/);
  });

  test('an error body: exit 1, message on stderr, error JSON with --json', async () => {
    const error = { error: { code: 'AGENT_FAILED', message: 'acme/korax did not become ready within 60 s' } };
    const s = await serve({ 'POST /v1/agents/acme/korax/restart': { status: 500, json: error } });
    const human = await runFleetctl(['restart', 'agent', 'acme/korax', '--socket', s.socket]);
    assert.equal(human.exitCode, 1);
    assert.equal(human.stdout, '');
    assert.match(human.stderr, /did not become ready within 60 s/);
    const json = await runFleetctl(['restart', 'agent', 'acme/korax', '--timeout', '5000', '--socket', s.socket, '--json']);
    assert.equal(json.exitCode, 1);
    assert.deepEqual(JSON.parse(json.stdout), error);
    assert.deepEqual(s.requests.at(-1)?.body, { wait: true, timeoutMs: 5000 });
  });

  test('restart fleet: a line per agent as it goes (NDJSON with --json); a failed agent exits 1 naming it', async () => {
    const steps = [
      { progress: { address: 'acme/alpha', step: 'restarting', reason: 'its turn' } },
      { progress: { address: 'acme/alpha', step: 'restarted', reason: 'running again as pid 7' } },
      { progress: { address: 'acme/beta', step: 'skipped', reason: 'stopped by the operator' } },
      { progress: { address: 'acme/korax', step: 'restarting', reason: 'its turn' } },
      { progress: { address: 'acme/korax', step: 'failed', reason: 'it is failed, exited with code 78' } },
      {
        result: {
          fleet: 'acme',
          restarted: ['acme/alpha'],
          failed: { address: 'acme/korax', reason: 'it is failed, exited with code 78' },
          skipped: ['acme/beta'],
          steps: [
            { address: 'acme/alpha', step: 'restarted', reason: 'running again as pid 7' },
            { address: 'acme/beta', step: 'skipped', reason: 'stopped by the operator' },
            { address: 'acme/korax', step: 'failed', reason: 'it is failed, exited with code 78' },
          ],
        },
      },
    ];
    const s = await serve({
      'POST /v1/fleets/acme/restart?progress=1': (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        res.end(steps.map((line) => `${JSON.stringify(line)}\n`).join(''));
      },
    });
    const r = await runFleetctl(['restart', 'fleet', 'acme', '--socket', s.socket]);
    assert.equal(r.exitCode, 1);
    assert.equal(
      r.stdout,
      'restarting acme/alpha ...\nrestarted acme/alpha: running again as pid 7\nskipped acme/beta: stopped by the operator\nrestarting acme/korax ...\nfailed acme/korax: it is failed, exited with code 78\n',
    );
    assert.match(r.stderr, /acme\/korax did not come back: it is failed, exited with code 78/);
    const json = await runFleetctl(['restart', 'fleet', 'acme', '--socket', s.socket, '--json']);
    assert.equal(json.exitCode, 1);
    assert.deepEqual(json.stdout.trim().split('\n').map((line) => JSON.parse(line)), steps);
  });

  test('usage errors exit 2 before connecting', async () => {
    const s = await serve({ 'GET /v1/agents': { json: statusBody() } });
    const cases = [
      ['restart', 'agent', 'Acme/korax'],
      ['status', 'acme/'],
      ['add', 'agent', 'acme/new', '--set', 'model=claude'],
      ['add', 'agent', 'acme/new', '--set', 'a=1', '--set', 'a.b=2'],
      ['stop', 'agent', 'acme/korax', '--timeout', 'soon'],
      // fleetd must not be restarted or stopped by a command whose own wait is nonsense
      ['daemon', 'restart', '--timeout', 'abc'],
      ['daemon', 'restart', '--timeout', '-5'],
      ['daemon', 'stop', '--timeout', '1.5x'],
      ['runtime', 'install', 'latest'],
      ['logs'],
      ['frobnicate'],
    ];
    for (const args of cases) {
      const r = await runFleetctl([...args, '--socket', s.socket]);
      assert.equal(r.exitCode, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.notEqual(r.stderr, '', args.join(' '));
    }
    const bad = await runFleetctl(['token', 'acme_x/y', '--socket', s.socket, '--json']);
    assert.equal(bad.exitCode, 2);
    const badDoc = JSON.parse(bad.stdout) as { error: { code: string; message: string } };
    assert.equal(badDoc.error.code, 'USAGE');
    assert.match(badDoc.error.message, /1-40 characters/);
    assert.equal(bad.stderr, '', '--json: nothing on stderr');
    assert.deepEqual(s.requests, []);
  });

  test('add agent sends the nested --set config, --env and --no-start', async () => {
    const added = { agent: agentView('acme/new', { source: 'cli', state: 'stopped', pid: null, desired: 'stopped', reason: 'not started' }), actions: [{ kind: 'provision', address: 'acme/new', reason: 'new agent' }], skippedPorts: [] };
    const s = await serve({ 'POST /v1/agents': { json: added } });
    const r = await runFleetctl([
      'add', 'agent', 'acme/new', '--socket', s.socket,
      '--set', 'agents.defaults.model.primary="anthropic/claude-sonnet-4-6"', '--set', 'browser.enabled=false', '--env', 'TZ=UTC', '--no-start',
    ]);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.deepEqual(s.requests[0]?.body, {
      fleet: 'acme',
      agent: 'new',
      config: { agents: { defaults: { model: { primary: 'anthropic/claude-sonnet-4-6' } } }, browser: { enabled: false } },
      env: { TZ: 'UTC' },
      start: false,
    });
    assert.match(r.stdout, /^provision acme\/new: new agent\nadded acme\/new: stopped, port 18800/);
  });

  test('start/stop/remove agent: bodies, summaries, and a start that fails exits 1', async () => {
    const failed = agentView('acme/korax', { state: 'failed', pid: null, reason: 'exited with code 78 five times', health: { live: null, ready: null } });
    const s = await serve({
      'POST /v1/agents/acme/korax/start': { json: { agent: failed } },
      'POST /v1/agents/acme/alpha/stop': { json: { agent: agentView('acme/alpha', { state: 'stopped', pid: null, reason: 'stopped by fleetctl', health: { live: null, ready: null } }) } },
      'DELETE /v1/agents/acme/alpha': { json: { address: 'acme/alpha', purged: true, home: '/h/acme/alpha', freedPort: 18800 } },
    });
    const start = await runFleetctl(['start', 'agent', 'acme/korax', '--socket', s.socket]);
    assert.equal(start.exitCode, 1);
    assert.equal(start.stdout, 'started acme/korax: failed, port 18800; exited with code 78 five times\n');
    assert.match(start.stderr, /acme\/korax did not come back: failed/);
    const stop = await runFleetctl(['stop', 'agent', 'acme/alpha', '--timeout', '0', '--socket', s.socket]);
    assert.equal(stop.exitCode, 0, stop.stderr);
    assert.equal(stop.stdout, 'stopped acme/alpha: stopped, port 18800; stopped by fleetctl\n');
    const remove = await runFleetctl(['remove', 'agent', 'acme/alpha', '--purge', '--socket', s.socket]);
    assert.equal(remove.exitCode, 0, remove.stderr);
    assert.equal(remove.stdout, 'removed acme/alpha (port 18800 freed)\ndeleted /h/acme/alpha\n');
    assert.deepEqual(s.requests.map((r) => r.body), [{ wait: true }, { timeoutMs: 0 }, { purge: true }]);
  });

  test('token prints the token only', async () => {
    const s = await serve({ 'GET /v1/agents/acme/korax/token': { json: { address: 'acme/korax', token: 'tok-123' } } });
    const r = await runFleetctl(['token', 'acme/korax', '--socket', s.socket]);
    assert.equal(r.exitCode, 0);
    assert.equal(r.stdout, 'tok-123\n');
  });

  test('reload: actions, no changes, and an invalid manifest', async () => {
    const problems = 'manifest /tmp/fleets.json5 is invalid:\n  fleets.acme.agents.k.port: managed by fleetd, remove it\n  fleets.beta: unknown key "x"';
    const s = await serve({
      'POST /v1/reload': { json: { applied: false, actions: [{ kind: 'start', address: 'acme/korax', reason: 'new agent' }], skippedPorts: [] } },
    });
    const dry = await runFleetctl(['reload', '--dry-run', '--socket', s.socket]);
    assert.equal(dry.exitCode, 0);
    assert.equal(dry.stdout, 'start acme/korax: new agent\n');
    assert.deepEqual(s.requests[0]?.body, { dryRun: true });
    await server!.close();
    const t = await serve({ 'POST /v1/reload': { json: { applied: true, actions: [], skippedPorts: [] } } });
    assert.equal((await runFleetctl(['reload', '--socket', t.socket])).stdout, 'no changes\n');
    await server!.close();
    const u = await serve({ 'POST /v1/reload': { status: 422, json: { error: { code: 'MANIFEST_INVALID', message: problems } } } });
    const bad = await runFleetctl(['reload', '--socket', u.socket]);
    assert.equal(bad.exitCode, 1);
    assert.ok(bad.stderr.includes('managed by fleetd, remove it') && bad.stderr.includes('unknown key "x"'), bad.stderr);
  });

  test('logs: last N lines', async () => {
    const s = await serve({ 'GET /v1/agents/acme/korax/logs?lines=2': { json: { address: 'acme/korax', file: '/x.log', lines: ['one', 'two'] } } });
    const r = await runFleetctl(['logs', 'acme/korax', '-n', '2', '--socket', s.socket]);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.stdout, 'one\ntwo\n');
  });

  test('logs -f: prints streamed lines until Ctrl-C, then exit 0', async () => {
    let clientGone = false;
    const s = await serve({
      // asked first, only to say when the file is not there yet
      'GET /v1/agents/acme/korax/logs?lines=0': { json: { address: 'acme/korax', file: '/tmp/gateway.log', lines: [], exists: true } },
      'GET /v1/agents/acme/korax/logs?follow=1&lines=50': (req, res) => {
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        // the second object arrives split across two chunks
        res.write('{"line":"first"}\n{"line":"sec');
        res.write('ond"}\n');
        res.on('close', () => {
          clientGone = true;
        });
      },
    });
    const sub = startFleetctl(['logs', 'acme/korax', '-f', '--socket', s.socket]);
    let out = '';
    sub.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    await waitFor(() => out.includes('second\n'), { timeoutMs: 10_000, what: 'streamed lines' });
    sub.kill('SIGINT');
    const result = await sub;
    assert.equal(result.exitCode, 0, String(result.stderr));
    assert.equal(out, 'first\nsecond\n');
    await waitFor(() => clientGone, { timeoutMs: 5000, what: 'the follow request to be closed' });
  });

  test('runtime install: progress on stderr, result on stdout', async () => {
    const s = await serve({
      'POST /v1/runtimes': (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        res.write(`${JSON.stringify({ progress: { phase: 'node', message: 'installing node 24.21.0', elapsedMs: 10 } })}\n`);
        res.end(`${JSON.stringify({ result: { version: '2026.9.6', dir: '/r/2026.9.6', nodeVersion: '24.21.0' } })}\n`);
      },
    });
    const r = await runFleetctl(['runtime', 'install', '2026.9.6', '--socket', s.socket]);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /^installed openclaw 2026\.9\.6 \(node 24\.21\.0\) in \d+\.\d s\n$/);
    assert.match(r.stderr, /node: installing node 24\.21\.0/);
    assert.deepEqual(s.requests[0]?.body, { version: '2026.9.6' });
  });

  test('runtime install: a streamed error fails the run with its code', async () => {
    const s = await serve({
      'POST /v1/runtimes': (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        res.end(`${JSON.stringify({ error: { code: 'RUNTIME_FAILED', message: 'npm install openclaw@2026.9.7 failed: E404' } })}\n`);
      },
    });
    const r = await runFleetctl(['runtime', 'install', '2026.9.7', '--socket', s.socket, '--json']);
    assert.equal(r.exitCode, 1);
    const doc = JSON.parse(r.stdout) as { error: { code: string; message: string } };
    assert.equal(doc.error.code, 'RUNTIME_FAILED');
    assert.match(doc.error.message, /E404/);
    assert.equal(r.stderr, '', '--json: nothing on stderr');
  });
});
