// End to end through fleetd: what happens to a gateway that crashes, refuses its config,
// hangs, ignores SIGTERM or prints its token, as the operator sees it with fleetctl.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  agentHome,
  gatewayLog,
  alive,
  cleanup,
  fakeControl,
  fakeInfo,
  fakeManifest,
  refuseMarker,
  run,
  socketStatus,
  startFleetd,
  status,
  stopFleetd,
  tempDir,
  waitAllDead,
  waitForAgent,
  waitForAgentFast,
  writeSwitchableGateway,
  FLEETCTL,
  withFleetd,
  fakePids,
  FAKE_GATEWAY,
} from './harness.js';
import { waitFor } from '../../src/util/wait-for.js';

/** SIGKILLs fake-gateway helpers (idle `node -e` processes) that are still alive. */
function killIdleHelpers(pids: number[]): void {
  for (const pid of pids) {
    if (!alive(pid)) continue;
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmdline.includes('setInterval(() => {}, 1 << 30)')) process.kill(pid, 'SIGKILL');
  }
}

/** A manifest whose restart delay is long enough to watch the backoff state. */
function slowRestart(fleets: Record<string, unknown>, delayMs = 600): Record<string, unknown> {
  const m = fakeManifest(fleets);
  m.restart = { initialDelayMs: delayMs, factor: 2, maxDelayMs: Math.max(5000, delayMs), resetAfterMs: 60000, noRestartExitCodes: [78] };
  return m;
}

test('a crashed gateway comes back on the same port with a new pid; status shows the exit while it backs off', async () => {
  await withFleetd(slowRestart({ acme: { agents: { alpha: {} } } }), { waitRunning: 1 }, async (f, seen) => {
    const [before] = await status(f);
    const old = await fakePids(f.stateDir, 'acme/alpha');
    seen.push(...old);
    assert.equal(before.restarts, 0);
    assert.equal(old[0], before.pid);

    assert.equal(await fakeControl(before.port, '/__fake/crash?code=3'), 200);
    const backoff = await waitForAgentFast(f, 'acme/alpha', (a) => a.state === 'backoff');
    assert.match(backoff.reason, /exited with code 3/);
    assert.match(backoff.reason, /restart 1 in/);
    assert.equal(backoff.lastExit.code, 3);
    assert.ok(backoff.nextStartAt > backoff.lastExit.at, 'a next start is scheduled');
    assert.equal(backoff.pid, null);
    // The crash left helper and worker behind; they are gone before the backoff begins.
    assert.deepEqual(old.filter(alive), [], 'the crashed tree is gone');

    const back = await waitForAgent(f, 'acme/alpha', (a) => a.state === 'running');
    seen.push(...(await fakePids(f.stateDir, 'acme/alpha')));
    assert.notEqual(back.pid, before.pid);
    assert.equal(back.port, before.port);
    assert.equal(back.restarts, 1);
    assert.equal(back.lastExit.code, 3);
    assert.equal((await fakeInfo(f.stateDir, 'acme/alpha')).pid, back.pid);
  });
});

test('restart delays grow by the policy end to end: ~200, ~400, ~800 ms, then capped at maxDelayMs', async (t) => {
  const dir = await tempDir();
  const manifest = fakeManifest({ acme: { agents: { crashy: { env: { FAKE_MODE: 'crash-after:50' } } } } });
  const policy = { initialDelayMs: 200, factor: 2, maxDelayMs: 1000, resetAfterMs: 60000, noRestartExitCodes: [78] };
  manifest.restart = policy;
  const f = await startFleetd(dir, manifest);
  const seen = new Set<number>();
  try {
    // Sample every backoff episode. The policy's delay is nextStartAt - since (since = the
    // moment the runner entered backoff, right after deciding); nextStartAt - lastExit.at also
    // holds the time between the exit and that decision (output drain, helper clean-up).
    const delays = new Map<number, number>();
    const sinceExit = new Map<number, number>();
    const restarts: number[] = [];
    await waitFor(
      async () => {
        const a = (await socketStatus(f)).find((x) => x.address === 'acme/crashy');
        if (a?.pid) seen.add(a.pid);
        const info = await fakeInfo(f.stateDir, 'acme/crashy').catch(() => undefined);
        if (info) {
          for (const p of [info.pid, info.helperPid, info.workerPid]) seen.add(p);
        }
        if (a?.state === 'backoff' && a.nextStartAt !== null && a.lastExit) {
          const attempt = Number(/restart (\d+) in/.exec(a.reason)?.[1]);
          if (!delays.has(attempt)) {
            delays.set(attempt, a.nextStartAt - a.since);
            sinceExit.set(attempt, a.nextStartAt - a.lastExit.at);
            restarts.push(a.restarts);
          }
        }
        return delays.has(5);
      },
      { timeoutMs: 30_000, intervalMs: 20, what: 'five backoff episodes' },
    );
    const ordered = [1, 2, 3, 4, 5].map((n) => delays.get(n));
    assert.ok(ordered.every((d) => d !== undefined), `every episode observed: ${JSON.stringify([...delays])}`);
    const d = ordered as number[];
    t.diagnostic(`delays ${d.join(', ')} ms; exit to next start ${[...sinceExit.values()].join(', ')} ms`);
    const slack = 5; // ms between computing nextStartAt and stamping the transition
    assert.ok(d[0]! >= policy.initialDelayMs - slack && d[0]! <= policy.initialDelayMs * 1.1 + slack, `first delay ~200 ms: ${d}`);
    for (let i = 1; i < d.length; i++) {
      assert.ok(d[i]! >= Math.min(1.5 * d[i - 1]!, policy.maxDelayMs) - slack, `delay ${i + 1} grows: ${d}`);
      assert.ok(d[i]! <= policy.maxDelayMs * 1.1 + slack, `delay ${i + 1} is capped: ${d}`);
    }
    assert.ok(d[3]! >= policy.maxDelayMs - slack && d[4]! >= policy.maxDelayMs - slack, `the cap is reached: ${d}`);
    for (const [n, gap] of sinceExit) assert.ok(gap >= delays.get(n)! - slack, `restart ${n} is at least its delay after the exit: ${[...sinceExit]}`);
    const gaps = [1, 2, 3].map((n) => sinceExit.get(n)!);
    assert.ok(gaps[0]! < gaps[1]! && gaps[1]! < gaps[2]!, `exit-to-restart gaps increase: ${gaps}`);
    for (let i = 1; i < restarts.length; i++) assert.ok(restarts[i]! > restarts[i - 1]!, `restart count increases: ${restarts}`);

    const stopped = await f.ctl('stop', 'agent', 'acme/crashy');
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal(stopped.json.agent.state, 'stopped');
  } finally {
    await stopFleetd(f);
    await waitAllDead([...seen]);
    await cleanup(dir);
  }
});

test('a gateway that crashes before any probe saw its children leaves no detached helper behind', async () => {
  const dir = await tempDir();
  const manifest = slowRestart({ acme: { agents: { crashy: { env: { FAKE_MODE: 'crash-after:0' } } } } }, 60_000);
  const f = await startFleetd(dir, manifest);
  const seen: number[] = [];
  try {
    // The helper is in its own session: once the gateway died it is a child of init, where
    // no descendant walk finds it.
    const backoff = await waitForAgent(f, 'acme/crashy', (a) => a.state === 'backoff');
    assert.equal(backoff.lastExit.code, 1);
    seen.push(...(await fakePids(f.stateDir, 'acme/crashy')));
    assert.deepEqual(seen.filter(alive), [], `gateway ${seen[0]}, helper ${seen[1]}, worker ${seen[2]}: all gone once it backs off`);
  } finally {
    await stopFleetd(f);
    killIdleHelpers(seen.slice(1, 2)); // should there be a leak, do not let it outlive the test
    await waitAllDead(seen);
    await cleanup(dir);
  }
});

test('exit 78 is not restarted: failed with the config error; restart agent tries again and clears failed', async () => {
  const dir = await tempDir();
  const manifest = slowRestart({ acme: { agents: { alpha: {}, beta: {} } } });
  (manifest.gateway as { command: string[] }).command = await writeSwitchableGateway(dir);
  await writeFile(refuseMarker(dir, 'acme/alpha'), ''); // alpha runs the fake with FAKE_MODE=exit78
  const f = await startFleetd(dir, manifest);
  const seen: number[] = [];
  try {
    const failed = await waitForAgent(f, 'acme/alpha', (a) => a.state === 'failed');
    assert.match(failed.reason, /78/);
    assert.match(failed.reason, /gateway\.mode is required \(fake exit78\)/, 'the gateway\'s own error text');
    assert.match(failed.reason, /not restarted/);
    assert.equal(failed.lastExit.code, 78);
    assert.equal(failed.restarts, 0);
    assert.equal(failed.nextStartAt, null);
    assert.equal(failed.pid, null);

    // Let a restart delay pass, measured by an event: beta crashes and comes back (which
    // takes at least initialDelayMs); alpha has still not been retried.
    const beta = await waitForAgent(f, 'acme/beta', (a) => a.state === 'running');
    seen.push(...(await fakePids(f.stateDir, 'acme/beta')));
    await fakeControl(beta.port, '/__fake/crash');
    await waitForAgent(f, 'acme/beta', (a) => a.state === 'running' && a.pid !== beta.pid);
    seen.push(...(await fakePids(f.stateDir, 'acme/beta')));
    const still = (await status(f)).find((a) => a.address === 'acme/alpha');
    assert.equal(still.state, 'failed');
    assert.equal(still.restarts, 0);
    assert.equal(still.lastExit.at, failed.lastExit.at, 'no new attempt');

    // restart while still broken: a new attempt, which fails again (exit 1, names the reason)
    const again = await f.ctl('restart', 'agent', 'acme/alpha');
    assert.equal(again.code, 1);
    assert.equal(again.json.error.code, 'AGENT_FAILED');
    assert.match(again.json.error.message, /did not come back: failed/);
    assert.equal(again.stderr, '');
    const retried = (await status(f)).find((a) => a.address === 'acme/alpha');
    assert.equal(retried.state, 'failed');
    assert.equal(retried.restarts, 1);
    assert.ok(retried.lastExit.at > failed.lastExit.at, 'it tried again');

    // repaired: restart brings it up
    await rm(refuseMarker(dir, 'acme/alpha'));
    const repaired = await f.ctl('restart', 'agent', 'acme/alpha');
    assert.equal(repaired.code, 0, repaired.stderr);
    assert.equal(repaired.json.agent.state, 'running');
    seen.push(...(await fakePids(f.stateDir, 'acme/alpha')));
    assert.equal((await fakeInfo(f.stateDir, 'acme/alpha')).pid, repaired.json.agent.pid);
  } finally {
    await stopFleetd(f);
    await waitAllDead(seen);
    await cleanup(dir);
  }
});

test('a SIGSTOPped gateway is detected by its probes and replaced; the stopped tree is killed', async () => {
  await withFleetd(slowRestart({ acme: { agents: { alpha: {} } } }), { waitRunning: 1 }, async (f, seen) => {
    const [before] = await status(f);
    const old = await fakePids(f.stateDir, 'acme/alpha');
    seen.push(...old);
    process.kill(before.pid, 'SIGSTOP');
    const backoff = await waitForAgentFast(f, 'acme/alpha', (a) => a.state === 'backoff');
    assert.match(backoff.reason, /failed health probes in a row/);
    assert.deepEqual(old.filter(alive), [], 'the stopped gateway and its helpers are dead');
    const back = await waitForAgent(f, 'acme/alpha', (a) => a.state === 'running');
    seen.push(...(await fakePids(f.stateDir, 'acme/alpha')));
    assert.notEqual(back.pid, before.pid);
    assert.equal(back.port, before.port);
    assert.equal(back.restarts, 1);
  });
});

test('stop agent --timeout 500 SIGKILLs a gateway that ignores SIGTERM, helpers included', async () => {
  await withFleetd(fakeManifest({ acme: { agents: { stubborn: { env: { FAKE_MODE: 'ignore-sigterm' } } } } }), { waitRunning: 1 }, async (f, seen) => {
    const tree = await fakePids(f.stateDir, 'acme/stubborn');
    seen.push(...tree);
    assert.ok(tree.every(alive));
    const stopped = await f.ctl('stop', 'agent', 'acme/stubborn', '--timeout', '500');
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal(stopped.json.agent.state, 'stopped');
    assert.equal(stopped.json.agent.lastExit.signal, 'SIGKILL', 'it took SIGKILL');
    assert.deepEqual(tree.filter(alive), [], 'gateway, helper and worker are dead once stop answers');
    const log = await readFile(gatewayLog(f.stateDir, 'acme/stubborn'), 'utf8');
    assert.match(log, /fake gateway ignoring SIGTERM/, 'it did get SIGTERM first');
    // one line for the spawn and one for the exit, whoever writes the log (shim or runner)
    assert.equal(log.match(/spawned pid/g)?.length, 1, log);
    assert.equal(log.match(new RegExp(`pid ${tree[0]} killed by SIGKILL after`, 'g'))?.length, 1, log);
    assert.match(f.output(), /SIGKILLed processes that outlived SIGTERM/);
  });
});

test('a token the gateway prints never reaches its log file; fleetctl logs shows <redacted>', async () => {
  await withFleetd(fakeManifest({ acme: { agents: { leaky: { env: { FAKE_MODE: 'print-token' } } } } }), { waitRunning: 1 }, async (f, seen) => {
    seen.push(...(await fakePids(f.stateDir, 'acme/leaky')));
    const token = (await f.ctl('token', 'acme/leaky')).json.token as string;
    assert.match(token, /^[0-9a-f]{64}$/);
    const file = gatewayLog(f.stateDir, 'acme/leaky');
    // The second print is cut in two writes 50 ms apart; wait for its end.
    const log = await waitFor(async () => {
      const text = await readFile(file, 'utf8').catch(() => '');
      return text.includes(' end\n') ? text : undefined;
    }, { timeoutMs: 10_000, what: 'the split token line' });
    assert.ok(!log.includes(token), 'no token in gateway.log');
    assert.ok(!log.includes(token.slice(0, 32)) && !log.includes(token.slice(32)), 'not even half of it');
    assert.match(log, /token is <redacted>\n/);
    assert.match(log, /split token: <redacted> end\n/);

    const logs = await f.ctl('logs', 'acme/leaky');
    assert.equal(logs.code, 0, logs.stderr);
    assert.ok(logs.json.lines.includes('token is <redacted>'), JSON.stringify(logs.json.lines));
    assert.ok(logs.json.lines.includes('split token: <redacted> end'));
    assert.ok(!logs.stdout.includes(token));
    const human = await run(process.execPath, [FLEETCTL, '--socket', f.socket, 'logs', 'acme/leaky']);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /^split token: <redacted> end$/m);
    assert.ok(!human.stdout.includes(token));
  });
});

test('a gateway.command that names its port with {port} runs with the port there and no --port appended', async () => {
  const m = fakeManifest({ acme: { agents: { alpha: {} } } });
  (m.gateway as { command: string[] }).command = [process.execPath, FAKE_GATEWAY, '--port', '{port}'];
  await withFleetd(m, { waitRunning: 1 }, async (f, seen) => {
    const [agent] = await status(f);
    seen.push(agent.pid);
    assert.equal(agent.state, 'running');
    const argv = readFileSync(`/proc/${agent.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    assert.deepEqual(argv, [process.execPath, FAKE_GATEWAY, '--port', String(agent.port)]);
  });
});
