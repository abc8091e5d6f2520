// Running means OUR gateway answers (issue 9 item 3): a stranger that took the agent's port
// and answers 200 on every path is named by pid and command, and the agent is never
// `running` on its answers; a gateway whose /startupz has not said "started" is still
// `starting`, whatever /healthz says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { call } from '../../src/protocol/client.js';
import { waitFor } from '../../src/util/wait-for.js';
import { fakeManifest, fakePids, FAKE_GATEWAY, status, waitForAgentFast, withFleetd } from './harness.js';

test('a stranger on the agent\'s port is named and the agent never counts as running', async () => {
  const manifest = fakeManifest({ acme: { agents: { korax: { env: { FAKE_MODE: 'taken-wait:400' } } } } });
  await withFleetd(manifest, { waitRunning: 1 }, async (f, seen) => {
    seen.push(...(await fakePids(f.stateDir, 'acme/korax')));
    const [before] = await status(f);
    assert.equal((await f.ctl('stop', 'agent', 'acme/korax')).code, 0);
    const stranger = spawn(process.execPath, [FAKE_GATEWAY, '--port', String(before.port)], { env: { ...process.env, FAKE_MODE: 'stranger' }, stdio: ['ignore', 'pipe', 'inherit'] });
    seen.push(stranger.pid!);
    try {
      await once(stranger.stdout!, 'data'); // "stranger listening on ..."
      const started = await call(f.socket, 'startAgent', { params: { fleet: 'acme', agent: 'korax' }, body: { wait: false } });
      assert.equal(started.agent.state, 'starting');
      const named = await waitForAgentFast(f, 'acme/korax', (a) => a.reason.includes(`held by pid ${stranger.pid} (node)`));
      assert.notEqual(named.state, 'running');
      assert.match(named.reason, new RegExp(`port ${before.port} is held by pid ${stranger.pid} \\(node\\), not by this agent's gateway`));
      // its gateway gives up (exit 1, like OpenClaw on a taken port): backoff, the stranger named in the reason
      const backoff = await waitForAgentFast(f, 'acme/korax', (a) => a.state === 'backoff');
      assert.match(backoff.reason, new RegExp(`exited with code 1 .*held by pid ${stranger.pid}`));
      const states = new Set<string>();
      await waitFor(async () => {
        const [a] = await status(f);
        states.add(a.state);
        return a.restarts >= 2;
      }, { timeoutMs: 30_000, what: 'two more attempts' });
      assert.equal(states.has('running'), false, `never running on the stranger's answers (${[...states].join(', ')})`);
    } finally {
      stranger.kill('SIGKILL');
    }
    await waitForAgentFast(f, 'acme/korax', (a) => a.state === 'running');
    seen.push(...(await fakePids(f.stateDir, 'acme/korax')));
  });
});

test('a gateway is starting until /startupz says started, even while /healthz answers', async () => {
  const manifest = fakeManifest({ acme: { agents: { korax: { env: { FAKE_MODE: 'never-started' } } } } });
  await withFleetd(manifest, {}, async (f, seen) => {
    const starting = await waitForAgentFast(f, 'acme/korax', (a) => a.state === 'starting' && a.health.live === true && a.health.startup === 'starting');
    seen.push(...(await fakePids(f.stateDir, 'acme/korax')));
    assert.match(starting.reason, /listens on port \d+; \/startupz: starting/);
    const view = await f.ctl('status', 'acme/korax');
    assert.equal(view.json.agents[0].state, 'starting');
  });
});
