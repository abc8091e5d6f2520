// End to end through fleetd: a gateway that forks while it is being stopped leaves nothing
// behind (issue 9 item 4), and a gateway that prints its token in pieces leaks no piece of
// 8+ characters into any file, log line or answer (item 6).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { processesWithEnv } from '../../src/supervise/proc.js';
import { waitFor } from '../../src/util/wait-for.js';
import { agentHome, alive, cleanup, fakeControl, fakeManifest, gatewayLog, run, startFleetd, status, stopFleetd, tempDir, waitAllDead, withFleetd, FAKE_GATEWAY, FLEETCTL, type Fleetd } from './harness.js';

/** Path of the record of what the fake gateway forked on SIGTERM. */
const escapeeFile = (f: Fleetd, address: string) => join(agentHome(f.stateDir, address), 'fake-escapee.json');

// Once stop has answered, whatever the gateway forked on SIGTERM has either recorded itself
// (and must be dead) or was stopped before it could (then the marker check below sees any
// descendant it left).
/** Pids the fake gateway recorded as forked on SIGTERM (fake-escapee.json), [] when none. */
async function escapees(f: Fleetd, address: string): Promise<number[]> {
  const text = await readFile(escapeeFile(f, address), 'utf8').catch(() => 'null');
  const info = JSON.parse(text) as { childPid: number; grandchildPid?: number } | null;
  return info ? [info.childPid, info.grandchildPid].filter((p): p is number => typeof p === 'number') : [];
}

/** Every process still carrying the agent's marker (its OPENCLAW_CONFIG_PATH). */
function marked(f: Fleetd, address: string): number[] {
  return processesWithEnv('OPENCLAW_CONFIG_PATH', join(agentHome(f.stateDir, address), '.openclaw', 'openclaw.json')).map((p) => p.pid);
}

const forking = (mode: string) =>
  fakeManifest({ acme: { agents: { alpha: { env: { FAKE_MODE: mode } }, beta: {} } } }, { gateway: { command: [process.execPath, FAKE_GATEWAY], stopTimeoutMs: 1500 } });

for (const mode of ['fork-on-sigterm', 'fork-on-sigterm:double']) {
  test(`item 4 (${mode}): stop, restart and fleetd's SIGTERM leave nothing of an agent that forks while it is stopped`, async () => {
    const dir = await tempDir();
    const f = await startFleetd(dir, forking(mode), { waitRunning: 2 });
    const seen: number[] = [];
    try {
      seen.push(...(await status(f)).map((a) => a.pid));
      const stop = await f.ctl('stop', 'agent', 'acme/alpha');
      assert.equal(stop.code, 0, stop.stderr);
      const first = await escapees(f, 'acme/alpha');
      if (mode === 'fork-on-sigterm') assert.equal(first.length, 1, 'the gateway forked its escapee');
      seen.push(...first);
      assert.deepEqual(first.filter(alive), [], 'stop: the escapee is gone when stop answers');
      assert.deepEqual(marked(f, 'acme/alpha'), [], 'stop: nothing carries the agent marker');

      const start = await f.ctl('start', 'agent', 'acme/alpha');
      assert.equal(start.code, 0, start.stderr);
      seen.push(start.json.agent.pid);
      await rm(escapeeFile(f, 'acme/alpha'), { force: true });
      const restart = await f.ctl('restart', 'agent', 'acme/alpha');
      assert.equal(restart.code, 0, restart.stderr);
      seen.push(restart.json.agent.pid);
      const second = await escapees(f, 'acme/alpha');
      seen.push(...second);
      assert.deepEqual(second.filter(alive), [], 'restart: the escapee of the old gateway is gone');

      await rm(escapeeFile(f, 'acme/alpha'), { force: true });
      assert.equal(await stopFleetd(f), 0);
      const third = await escapees(f, 'acme/alpha');
      seen.push(...third);
      assert.deepEqual(third.filter(alive), [], 'fleetd SIGTERM: nothing escaped');
      assert.deepEqual(marked(f, 'acme/alpha'), []);
      assert.deepEqual(marked(f, 'acme/beta'), []);
    } finally {
      await stopFleetd(f);
      for (const pid of seen.filter(alive)) process.kill(pid, 'SIGKILL');
      await waitAllDead(seen);
      await cleanup(dir);
    }
  });
}

/** Every run of 8 characters of `secret` found in `text`. */
function pieces(text: string, secret: string): string[] {
  const found = new Set<string>();
  for (let i = 0; i + 8 <= secret.length; i++) if (text.includes(secret.slice(i, i + 8))) found.add(secret.slice(i, i + 8));
  return [...found];
}

test('item 6: a token printed in pieces, cut anywhere, around an unrelated stderr line: no piece of 8+ characters in gateway.log, its rotations, fleetd\'s log or any answer', async () => {
  const manifest = fakeManifest({ acme: { agents: { leaky: {} } } }, { logs: { maxBytes: 1024, maxFiles: 4 } });
  await withFleetd(manifest, { waitRunning: 1 }, async (f, seen) => {
    const [agent] = await status(f);
    seen.push(agent.pid);
    const token = (await f.ctl('token', 'acme/leaky')).json.token as string;
    const follow = run(process.execPath, [FLEETCTL, '--socket', f.socket, '--json', 'logs', 'acme/leaky', '-f'], { timeoutMs: 60_000 });
    const cuts = Array.from({ length: 21 }, (_, i) => 1 + 3 * i);
    for (const cut of cuts) assert.equal(await fakeControl(agent.port, `/__fake/print-pieces?cut=${cut}${cut % 2 ? '&rest=stderr' : ''}`), 200);
    const logsDir = dirname(gatewayLog(f.stateDir, 'acme/leaky'));
    const logText = async () => {
      let all = '';
      for (const name of (await readdir(logsDir)).filter((n) => n.startsWith('gateway.log'))) all += await readFile(join(logsDir, name), 'utf8');
      return all;
    };
    await waitFor(async () => ((await logText()).match(/ end\n/g)?.length ?? 0) >= cuts.length - 3, { timeoutMs: 20_000, what: 'the pieces to be logged' });
    const files = (await readdir(logsDir)).filter((n) => n.startsWith('gateway.log'));
    assert.ok(files.length > 1, `the log rotated (${files.join(', ')})`);
    const text = await logText();
    assert.match(text, /unrelated line\n/);
    assert.deepEqual(pieces(text, token), [], 'gateway.log and its rotations');
    const answer = await f.ctl('logs', 'acme/leaky', '-n', '1000');
    assert.deepEqual(pieces(answer.stdout, token), [], 'fleetctl logs');
    const statusAnswer = await f.ctl('status');
    assert.deepEqual(pieces(statusAnswer.stdout, token), [], 'status');
    process.kill(agent.pid, 'SIGKILL'); // a crash: its last output becomes the reason status shows
    await waitFor(async () => (await status(f))[0].pid !== agent.pid && (await status(f))[0].state === 'running', { timeoutMs: 20_000 });
    seen.push((await status(f))[0].pid);
    assert.deepEqual(pieces((await f.ctl('status')).stdout, token), []);
    await stopFleetd(f);
    const followed = await follow;
    assert.deepEqual(pieces(followed.stdout, token), [], 'fleetctl logs -f');
    assert.deepEqual(pieces(f.output(), token), [], "fleetd's own log");
  });
});
