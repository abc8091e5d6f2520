// End to end: every fleetctl command against the built fleetd with the fake gateway, its
// --json output and its exit code (0 ok, 1 failed, 2 usage, 3 unreachable); fleetd's own
// command line (help, validate).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import JSON5 from 'json5';
import {
  agentHome,
  gatewayLog,
  alive,
  cleanup,
  fakeControl,
  fakeInfo,
  fakeManifest,
  processesOfHome,
  refuseMarker,
  run,
  spawnCtl,
  startFleetd,
  status,
  stopFleetd,
  tempDir,
  waitAllDead,
  waitForRunning,
  writeSwitchableGateway,
  FLEETCTL,
  FLEETD,
  REPO,
  type Fleetd,
  fakePids,
} from './harness.js';
import { waitFor } from '../../src/util/wait-for.js';

/** fleetctl without --json (the human output). */
function human(f: Fleetd, ...args: string[]) {
  return run(process.execPath, [FLEETCTL, '--socket', f.socket, ...args]);
}

describe('read-only commands against one fleetd (acme/alpha, acme/beta, globex/one)', () => {
  let dir: string;
  let f: Fleetd;
  const seen: number[] = [];

  before(async () => {
    dir = await tempDir();
    await mkdir(join(dir, 'runtimes'));
    const manifest = fakeManifest({ acme: { agents: { alpha: {}, beta: {} } }, globex: { agents: { one: {} } } }, { runtimesDir: './runtimes' });
    f = await startFleetd(dir, manifest, { waitRunning: 3 });
    for (const a of await status(f)) seen.push(...(await fakePids(f.stateDir, a.address)));
  });

  after(async () => {
    if (f) assert.equal(await stopFleetd(f), 0);
    await waitAllDead(seen);
    await cleanup(dir);
  });

  test('status: all, one fleet, one agent, unknown filter; the table has a header and one sorted line per agent', async () => {
    const all = await f.ctl('status');
    assert.equal(all.code, 0, all.stderr);
    assert.deepEqual(all.json.agents.map((a: any) => a.address), ['acme/alpha', 'acme/beta', 'globex/one']);
    assert.equal(all.json.daemon.pid, f.child.pid);

    const fleet = await f.ctl('status', 'acme');
    assert.equal(fleet.code, 0, fleet.stderr);
    assert.deepEqual(fleet.json.agents.map((a: any) => a.address), ['acme/alpha', 'acme/beta']);

    const one = await f.ctl('status', 'acme/alpha');
    assert.equal(one.code, 0, one.stderr);
    assert.deepEqual(one.json.agents.map((a: any) => [a.address, a.state]), [['acme/alpha', 'running']]);

    const unknownFleet = await f.ctl('status', 'nope');
    assert.equal(unknownFleet.code, 1);
    assert.equal(unknownFleet.json.error.code, 'NOT_FOUND');
    assert.match(unknownFleet.json.error.message, /^no fleet nope; fleets: acme, globex /);
    const unknownAgent = await f.ctl('status', 'acme/nope');
    assert.equal(unknownAgent.code, 1);
    assert.equal(unknownAgent.json.error.code, 'NOT_FOUND');
    assert.match(unknownAgent.json.error.message, /^no agent acme\/nope; agents of acme: alpha, beta /);

    const table = await human(f, 'status');
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split('\n');
    assert.deepEqual(lines[0]!.split(/\s+/).slice(0, 4), ['ADDRESS', 'STATE', 'PID', 'PORT']);
    assert.deepEqual(lines.slice(1).map((l) => l.split(/\s+/)[0]), ['acme/alpha', 'acme/beta', 'globex/one']);
    for (const [i, a] of all.json.agents.entries()) {
      const cols = lines[i + 1]!.split(/\s+/);
      assert.deepEqual(cols.slice(1, 4), ['running', String(a.pid), String(a.port)]);
      // a fixed gateway command has no OpenClaw or Node version of its own
      assert.deepEqual([a.openclaw, a.node], [null, null]);
      assert.deepEqual(cols.slice(10, 12), ['-', '-']);
    }
    const filtered = await human(f, 'status', 'globex');
    assert.deepEqual(filtered.stdout.trimEnd().split('\n').slice(1).map((l) => l.split(/\s+/)[0]), ['globex/one']);
  });

  test('logs -n 5 prints the last 5 lines of the gateway log', async () => {
    const [alpha] = await status(f);
    const file = gatewayLog(f.stateDir, 'acme/alpha');
    for (let i = 0; i < 3; i++) assert.equal(await fakeControl(alpha.port, '/__fake/print-token'), 200);
    const text = await waitFor(async () => {
      const t = await readFile(file, 'utf8');
      return (t.match(/ end\n/g) ?? []).length === 3 ? t : undefined;
    }, { timeoutMs: 10_000, what: 'three token prints in the log' });
    const fileLines = text.trimEnd().split('\n');
    assert.ok(fileLines.length > 5);

    const r = await f.ctl('logs', 'acme/alpha', '-n', '5');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json.address, 'acme/alpha');
    assert.equal(r.json.file, file);
    assert.deepEqual(r.json.lines, fileLines.slice(-5));
    const h = await human(f, 'logs', 'acme/alpha', '-n', '5');
    assert.equal(h.code, 0, h.stderr);
    assert.deepEqual(h.stdout.trimEnd().split('\n'), fileLines.slice(-5));
    assert.equal((await f.ctl('logs', 'acme/nope')).code, 1, 'unknown agent');
    assert.equal((await f.ctl('logs', 'acme/alpha', '-n', 'x')).code, 2, 'bad -n is a usage error');
  });

  test('an unknown agent or fleet, whatever the command: the agents of its fleet, or the fleets', async () => {
    const agentOfAcme = /^no agent acme\/nobody; agents of acme: alpha, beta \(`fleetctl status` lists every agent\)$/;
    const fleetless = /^no agent zeta\/x; no fleet zeta either; fleets: acme, globex \(`fleetctl status` lists every agent\)$/;
    const cases: Array<[string[], RegExp]> = [
      [['token', 'acme/nobody'], agentOfAcme],
      [['logs', 'acme/nobody'], agentOfAcme],
      [['logs', 'acme/nobody', '--openclaw'], agentOfAcme],
      [['config', 'show', 'acme/nobody'], agentOfAcme],
      [['restart', 'agent', 'acme/nobody'], agentOfAcme],
      [['stop', 'agent', 'zeta/x'], fleetless],
      [['remove', 'agent', 'zeta/x'], fleetless],
      [['upgrade', 'acme/nobody', '--to', '2.0.0', '--dry-run'], agentOfAcme],
      [['stop', 'fleet', 'zeta'], /^no fleet zeta; fleets: acme, globex \(/],
      [['restart', 'fleet', 'zeta'], /^no fleet zeta; fleets: acme, globex \(/],
    ];
    for (const [args, message] of cases) {
      const r = await human(f, ...args);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}`);
      assert.match(r.stderr.trimEnd().replace(/^fleetctl: /, ''), message, args.join(' '));
    }
  });

  test('logs -f streams a line written after the follow started; SIGINT ends it with exit 0', async () => {
    const beta = (await status(f)).find((a) => a.address === 'acme/beta');
    const follow = spawnCtl(f, 'logs', 'acme/beta', '-f', '-n', '1');
    try {
      // The one existing line shows the follow is connected.
      await waitFor(() => follow.stdout().includes('\n'), { timeoutMs: 10_000, what: 'the first followed line' });
      assert.ok(!follow.stdout().includes('token is'), 'not written yet');
      // The follow attaches a moment after the tail is sent: print until a line arrives.
      await waitFor(
        async () => {
          await fakeControl(beta.port, '/__fake/print-token');
          return follow.stdout().includes('token is <redacted>\n');
        },
        { timeoutMs: 10_000, intervalMs: 300, what: 'the new line in the follow' },
      );
      follow.child.kill('SIGINT');
      assert.equal(await follow.exited, 0, follow.stderr());
      const token = (await f.ctl('token', 'acme/beta')).json.token;
      assert.ok(!follow.stdout().includes(token));
    } finally {
      follow.child.kill('SIGKILL');
    }
  });

  test('reload --dry-run with no change plans nothing; token prints 64 hex', async () => {
    const dry = await f.ctl('reload', '--dry-run');
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(dry.json, { applied: false, actions: [], skippedPorts: [], reconfigured: [] });
    const dryHuman = await human(f, 'reload', '--dry-run');
    assert.equal(dryHuman.code, 0, dryHuman.stderr);
    assert.equal(dryHuman.stdout, 'no changes\n');

    const token = await f.ctl('token', 'acme/alpha');
    assert.equal(token.code, 0, token.stderr);
    assert.equal(token.json.address, 'acme/alpha');
    assert.match(token.json.token, /^[0-9a-f]{64}$/);
    const plain = await human(f, 'token', 'acme/alpha');
    assert.equal(plain.stdout, `${token.json.token}\n`, 'only the token, for scripts');
    const other = await f.ctl('token', 'acme/beta');
    assert.notEqual(other.json.token, token.json.token, 'one token per agent');
    const missing = await f.ctl('token', 'acme/nope');
    assert.equal(missing.code, 1);
    assert.equal(missing.json.error.code, 'NOT_FOUND');
  });

  test('runtime list on an empty runtimes dir, runtime remove of a missing version, runtime install latest', async () => {
    const list = await f.ctl('runtime', 'list');
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(list.json, { runtimes: [] }, list.stdout);
    const listHuman = await human(f, 'runtime', 'list');
    assert.equal(listHuman.code, 0);
    assert.equal(listHuman.stdout, '');
    assert.match(listHuman.stderr, /no runtime installed/);

    const remove = await f.ctl('runtime', 'remove', '1.2.3');
    assert.equal(remove.code, 1, remove.stdout);
    assert.ok(remove.json.error.code, 'an error document');
    assert.match(remove.json.error.message, /1\.2\.3/);

    const latest = await f.ctl('runtime', 'install', 'latest');
    assert.equal(latest.code, 2, latest.stdout);
    assert.equal(latest.json.error.code, 'USAGE');
    const still = await f.ctl('runtime', 'list');
    assert.deepEqual([still.code, still.json], [0, { runtimes: [] }], `nothing was installed: ${still.stdout}${still.stderr}`);
  });
});

test('stop agent stays stopped across a fleetd restart until start agent; restart agent keeps port and token', async () => {
  const dir = await tempDir();
  const manifest = fakeManifest({ acme: { agents: { alpha: {}, beta: {} } } });
  let f = await startFleetd(dir, manifest, { waitRunning: 2 });
  const seen: number[] = [];
  try {
    const [alpha, beta] = await status(f);
    const alphaTree = await fakePids(f.stateDir, 'acme/alpha');
    seen.push(...alphaTree, ...(await fakePids(f.stateDir, 'acme/beta')));

    const stopped = await f.ctl('stop', 'agent', 'acme/alpha');
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal(stopped.json.agent.state, 'stopped');
    assert.equal(stopped.json.agent.desired, 'stopped');
    assert.equal(stopped.json.agent.pid, null);
    assert.deepEqual(alphaTree.filter(alive), [], 'its whole tree is gone when stop answers');
    assert.equal((await status(f)).find((a) => a.address === 'acme/beta').pid, beta.pid, 'beta untouched');

    assert.equal(await stopFleetd(f), 0);
    await waitAllDead(seen);
    f = await startFleetd(dir, manifest, { waitRunning: 1 });
    const afterRestart = await status(f);
    const a2 = afterRestart.find((a) => a.address === 'acme/alpha');
    assert.equal(a2.state, 'stopped');
    assert.equal(a2.desired, 'stopped');
    assert.equal(a2.pid, null);
    assert.equal(a2.port, alpha.port);
    assert.deepEqual(processesOfHome(agentHome(f.stateDir, 'acme/alpha')), [], 'no process runs in its home');
    const startedAlpha = f.output().split('\n').filter((l) => l.includes('"starting agent"') && l.includes('"acme/alpha"'));
    assert.deepEqual(startedAlpha, [], 'fleetd did not start it');
    seen.push(...(await fakePids(f.stateDir, 'acme/beta')));

    const started = await f.ctl('start', 'agent', 'acme/alpha');
    assert.equal(started.code, 0, started.stderr || started.stdout);
    assert.equal(started.json.agent.state, 'running');
    assert.equal(started.json.agent.desired, 'running');
    assert.equal(started.json.agent.port, alpha.port);
    seen.push(...(await fakePids(f.stateDir, 'acme/alpha')));
    assert.equal((await fakeInfo(f.stateDir, 'acme/alpha')).pid, started.json.agent.pid);
    const again = await f.ctl('start', 'agent', 'acme/alpha');
    assert.equal(again.code, 0, 'starting a running agent is fine');
    assert.equal(again.json.agent.pid, started.json.agent.pid, 'and changes nothing');

    const betaNow = (await status(f)).find((a) => a.address === 'acme/beta');
    const betaTree = await fakePids(f.stateDir, 'acme/beta');
    const token = (await f.ctl('token', 'acme/beta')).json.token;
    const restarted = await f.ctl('restart', 'agent', 'acme/beta');
    assert.equal(restarted.code, 0, restarted.stderr);
    assert.equal(restarted.json.agent.state, 'running');
    assert.notEqual(restarted.json.agent.pid, betaNow.pid, 'new pid');
    assert.equal(restarted.json.agent.port, betaNow.port, 'same port');
    assert.equal((await f.ctl('token', 'acme/beta')).json.token, token, 'same token');
    assert.deepEqual(betaTree.filter(alive), [], 'the old tree is gone');
    seen.push(...(await fakePids(f.stateDir, 'acme/beta')));

    const unknown = await f.ctl('stop', 'agent', 'acme/nope');
    assert.equal(unknown.code, 1);
    assert.equal(unknown.json.error.code, 'NOT_FOUND');
    const usage = await f.ctl('stop', 'agent', 'acme');
    assert.equal(usage.code, 2, 'an address needs FLEET/AGENT');
  } finally {
    await stopFleetd(f);
    await waitAllDead(seen);
    await cleanup(dir);
  }
});

test('restart fleet: one agent at a time, each new gateway after the previous one runs; stops at an agent that cannot come back', async () => {
  const dir = await tempDir();
  const manifest = fakeManifest({ acme: { agents: { alpha: {}, beta: {}, gamma: {} } }, globex: { agents: { one: {} } } });
  (manifest.gateway as { command: string[] }).command = await writeSwitchableGateway(dir);
  const f = await startFleetd(dir, manifest, { waitRunning: 4 });
  const acme = ['acme/alpha', 'acme/beta', 'acme/gamma'];
  const seen: number[] = [];
  try {
    const before = new Map((await status(f)).map((a) => [a.address, a]));
    for (const address of before.keys()) seen.push(...(await fakePids(f.stateDir, address)));

    const rolled = await f.ctl('restart', 'fleet', 'acme');
    assert.equal(rolled.code, 0, rolled.stderr);
    const lines = rolled.stdout.trim().split('\n').map((line) => JSON.parse(line));
    assert.deepEqual(
      lines.filter((l) => l.progress).map((l) => `${l.progress.step} ${l.progress.address}`),
      acme.flatMap((a) => [`restarting ${a}`, `restarted ${a}`]),
      'NDJSON progress, agent by agent, in order',
    );
    const result = lines.at(-1).result;
    assert.deepEqual({ ...result, steps: undefined }, { fleet: 'acme', restarted: acme, failed: null, skipped: [], steps: undefined });
    const after1 = new Map((await status(f)).map((a) => [a.address, a]));
    const started = new Map<string, number>();
    for (const address of acme) {
      const a = after1.get(address);
      assert.equal(a.state, 'running');
      assert.notEqual(a.pid, before.get(address).pid, `${address}: new pid`);
      assert.equal(a.port, before.get(address).port, `${address}: same port`);
      const info = await fakeInfo(f.stateDir, address);
      assert.equal(info.pid, a.pid);
      seen.push(info.pid, info.helperPid, info.workerPid);
      started.set(address, Date.parse(info.startedAt));
    }
    // One at a time: each new gateway started only after the previous one was running.
    for (let i = 1; i < acme.length; i++) {
      const previous = after1.get(acme[i - 1]!);
      assert.ok(started.get(acme[i]!)! >= previous.since, `${acme[i]} started after ${acme[i - 1]} became running`);
    }
    assert.equal(after1.get('globex/one').pid, before.get('globex/one').pid, 'other fleets untouched');

    // beta cannot come back (its gateway now refuses its config with exit 78)
    await writeFile(refuseMarker(dir, 'acme/beta'), '');
    const brokenRun = await f.ctl('restart', 'fleet', 'acme');
    assert.equal(brokenRun.code, 1);
    const broken = { code: brokenRun.code, stderr: brokenRun.stderr, json: brokenRun.stdout.trim().split('\n').map((line) => JSON.parse(line)).at(-1).result };
    assert.deepEqual(broken.json.restarted, ['acme/alpha']);
    assert.equal(broken.json.failed.address, 'acme/beta');
    assert.match(broken.json.failed.reason, /^failed: exited with code 78/);
    assert.equal(broken.stderr, '', '--json: the result says it, nothing on stderr');
    const after2 = new Map((await status(f)).map((a) => [a.address, a]));
    assert.notEqual(after2.get('acme/alpha').pid, after1.get('acme/alpha').pid, 'alpha was restarted');
    assert.equal(after2.get('acme/alpha').state, 'running');
    assert.equal(after2.get('acme/beta').state, 'failed');
    assert.equal(after2.get('acme/gamma').pid, after1.get('acme/gamma').pid, 'gamma untouched');
    assert.equal(after2.get('acme/gamma').restarts, after1.get('acme/gamma').restarts);
    seen.push(...(await fakePids(f.stateDir, 'acme/alpha')));

    const unknown = await f.ctl('restart', 'fleet', 'nope');
    assert.equal(unknown.code, 1);
    assert.equal(unknown.json.error.code, 'NOT_FOUND');

    await rm(refuseMarker(dir, 'acme/beta'));
    await waitForRunning(f, 3); // alpha, gamma, globex/one still run
  } finally {
    await stopFleetd(f);
    await waitAllDead(seen);
    await cleanup(dir);
  }
});

test('fleetctl completion bash and --help of both programs exit 0', async () => {
  const completion = await run(process.execPath, [FLEETCTL, 'completion', 'bash']);
  assert.equal(completion.code, 0, completion.stderr);
  assert.match(completion.stdout, /fleetctl/);
  assert.match(completion.stdout, /complete .*fleetctl/);
  const zsh = await run(process.execPath, [FLEETCTL, 'completion', 'zsh']);
  assert.equal(zsh.code, 2, 'unsupported shell is a usage error');

  const ctlHelp = await run(process.execPath, [FLEETCTL, '--help']);
  assert.equal(ctlHelp.code, 0, ctlHelp.stderr);
  assert.match(ctlHelp.stdout, /Usage: fleetctl/);
  for (const command of ['status', 'add', 'remove', 'start', 'stop', 'restart', 'logs', 'reload', 'token', 'runtime', 'completion', 'doctor']) {
    assert.match(ctlHelp.stdout, new RegExp(`^\\s+${command}\\b`, 'm'), `help lists ${command}`);
  }
  const fleetdHelp = await run(process.execPath, [FLEETD, '--help']);
  assert.equal(fleetdHelp.code, 0, fleetdHelp.stderr);
  assert.match(fleetdHelp.stdout, /Usage: fleetd/);
  assert.match(fleetdHelp.stdout, /validate/);
  const bogus = await run(process.execPath, [FLEETCTL, 'frobnicate']);
  assert.equal(bogus.code, 2);
});

test('fleetd validate: ok with counts on the example manifest; exit 1 with every problem on a broken one', async () => {
  const example = join(REPO, 'fleets.example.json5');
  const parsed = JSON5.parse(await readFile(example, 'utf8')) as { fleets: Record<string, { agents?: Record<string, unknown> }> };
  const fleets = Object.keys(parsed.fleets).length;
  const agents = Object.values(parsed.fleets).reduce((n, fl) => n + Object.keys(fl.agents ?? {}).length, 0);
  const ok = await run(process.execPath, [FLEETD, 'validate', '--manifest', example]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, `ok: ${fleets} fleets, ${agents} agents\n`);
  assert.equal(ok.stderr, '', 'the example pins its OpenClaw: no warning');

  const dir = await tempDir();
  try {
    const broken = join(dir, 'broken.json5');
    await writeFile(broken, '{ version: 2, bogus: 1, fleets: { Acme: {}, good: { agents: { x: { env: { "1BAD": "v" } } } } } }');
    const bad = await run(process.execPath, [FLEETD, 'validate', '--manifest', broken]);
    assert.equal(bad.code, 1);
    assert.equal(bad.stdout, '');
    const problems = bad.stderr.trimEnd().split('\n');
    assert.ok(problems.length >= 4, bad.stderr);
    assert.ok(problems.every((l) => l.includes(broken)), 'every line names the file');
    assert.match(bad.stderr, /version: expected version: 1/);
    assert.match(bad.stderr, /bogus: unknown key "bogus"/);
    assert.match(bad.stderr, /fleets\.Acme: id must match/);
    assert.match(bad.stderr, /1BAD/);

    // valid, but the agents would run whatever `openclaw` fleetd's PATH holds: said, naming them
    const unpinned = join(dir, 'unpinned.json5');
    await writeFile(unpinned, '{ version: 1, fleets: { acme: { agents: { korax: {}, pinned: { gateway: { openclaw: "2026.9.6" } } } } } }');
    const warned = await run(process.execPath, [FLEETD, 'validate', '--manifest', unpinned]);
    assert.equal(warned.code, 0, warned.stderr);
    assert.equal(warned.stdout, 'ok: 1 fleets, 2 agents\n');
    assert.match(warned.stderr, /^warning: \S+unpinned\.json5: fleets\.acme: agent korax names no gateway .* runs `openclaw gateway run` from its PATH/);

    const missing = await run(process.execPath, [FLEETD, 'validate', '--manifest', join(dir, 'none.json5')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /none\.json5/);
  } finally {
    await cleanup(dir);
  }
});

test('logs of a file that does not exist yet: said on stderr (exit 0), --json says exists: false; -f says it waits, then follows the file once it appears', async () => {
  const dir = await tempDir();
  const f = await startFleetd(dir, fakeManifest({ acme: { agents: { alpha: {}, off: { enabled: false } } } }), { waitRunning: 1 });
  const seen = await fakePids(f.stateDir, 'acme/alpha');
  try {
    // the fake gateway never writes OpenClaw's own log
    const none = await human(f, 'logs', 'acme/alpha', '--openclaw');
    assert.equal(none.code, 0, none.stderr);
    assert.equal(none.stdout, '');
    assert.match(none.stderr, /^fleetctl: acme\/alpha: OpenClaw's own log \S+openclaw\.log does not exist yet \(OpenClaw creates it when the gateway first logs; its captured output: fleetctl logs acme\/alpha\)\n$/);
    const doc = await f.ctl('logs', 'acme/alpha', '--openclaw');
    assert.equal(doc.code, 0, doc.stderr);
    assert.equal(doc.json.exists, false);
    assert.deepEqual(doc.json.lines, []);
    // an agent never started has no captured output either
    const off = await human(f, 'logs', 'acme/off');
    assert.equal(off.code, 0, off.stderr);
    assert.match(off.stderr, /acme\/off: no gateway output captured yet: \S+gateway\.log does not exist/);
    // a log that exists: no note
    assert.equal((await f.ctl('logs', 'acme/alpha')).json.exists, true);
    assert.equal((await human(f, 'logs', 'acme/alpha')).stderr, '');

    const follow = spawnCtl(f, 'logs', 'acme/alpha', '--openclaw', '-f');
    try {
      await waitFor(() => follow.stderr().includes('does not exist yet'), { timeoutMs: 10_000, what: 'the note of the follow' });
      assert.match(follow.stderr(), /; waiting for it \(Ctrl-C to stop\)\n$/);
      await mkdir(join(agentHome(f.stateDir, 'acme/alpha'), 'logs'), { recursive: true });
      await writeFile(doc.json.file, '{"msg":"first record"}\n');
      await waitFor(() => follow.stdout().includes('first record'), { timeoutMs: 10_000, what: 'the first record in the follow' });
      follow.child.kill('SIGINT');
      assert.equal(await follow.exited, 0, follow.stderr());
    } finally {
      follow.child.kill('SIGKILL');
    }
    const now = await human(f, 'logs', 'acme/alpha', '--openclaw');
    assert.deepEqual([now.code, now.stdout, now.stderr], [0, '{"msg":"first record"}\n', '']);
  } finally {
    await stopFleetd(f);
    await waitAllDead(seen);
    await cleanup(dir);
  }
});
