// Against a REAL OpenClaw gateway (issue 9 item 3, the helpers): /startupz answers as the
// docs say (503 "starting" while startup sidecars are pending, then 200 "started"), the
// listener on the agent's port is held by the gateway's own tree as /proc shows it (and as
// `ss` shows it), and a stranger on a stopped agent's port is named by pid and command, so
// judgeStart calls it foreign however it answers. One real gateway at a time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { judgeStart } from '../../src/plan/start-verdict.js';
import { createListenerCheck } from '../../src/supervise/listener-owner.js';
import { probeGateway, type StartupAnswer } from '../../src/supervise/probe.js';
import { probeStartup } from '../../src/supervise/startup-probe.js';
import { waitFor } from '../../src/util/wait-for.js';
import { alive, cleanup, FAKE_GATEWAY, startFleetd, status, stopFleetd, tempDir } from './harness.js';
import { FIRST_START_TIMEOUT_MS, gatewayTree, hasSs, listeningSockets, realManifest, trackTrees, waitRefsDead } from './real-harness.js';
import type { ProcRef } from '../../src/supervise/proc.js';

test('real OpenClaw: /startupz starting then started, the listener is the gateway\'s own, a stranger is named', { timeout: 10 * 60_000 }, async () => {
  const dir = await tempDir();
  const seen = new Map<string, ProcRef>();
  const f = await startFleetd(dir, realManifest({ acme: { agents: { one: {} } } }), {});
  let strangerPid: number | undefined;
  try {
    // Sample the probes while it boots (no assertion on what is caught in between: timing).
    const states = new Set<StartupAnswer['state']>();
    const agent = await waitFor(
      async () => {
        const a = (await status(f))[0];
        if (a?.pid) {
          trackTrees(seen, [a.pid]);
          const probe = await probeGateway(a.port, 1500);
          if (probe.startup) states.add(probe.startup.state);
        }
        return a?.state === 'running' ? a : undefined;
      },
      { timeoutMs: FIRST_START_TIMEOUT_MS, intervalMs: 500, what: 'the real gateway to run' },
    );
    const probe = await waitFor(async () => {
      const p = await probeGateway(agent.port, 2000);
      return p.startup?.state === 'started' ? p : undefined;
    }, { timeoutMs: 120_000, intervalMs: 500, what: '/startupz started' });
    assert.equal(probe.live, true);
    // the round ends at /readyz's 200 when OpenClaw is ready; /startupz itself says started too
    const startupz = await probeStartup(agent.port, 2000);
    assert.equal(startupz.state, 'started');
    assert.equal(startupz.detail, '/startupz: started');
    assert.ok(!states.has('absent'), 'OpenClaw has /startupz');
    console.log(`startup states seen while booting: ${[...states].join(', ')}`);

    const tree = gatewayTree(agent.pid).map((r) => r.pid);
    const owner = createListenerCheck()(agent.port, tree);
    assert.equal(owner.owner, 'agent', JSON.stringify(owner));
    if (owner.owner === 'agent') {
      assert.deepEqual(owner.sockets.map((s) => s.address).sort(), ['127.0.0.1', '::1'], 'bind: loopback is both');
      assert.ok(tree.includes(owner.pid));
      if (hasSs()) {
        const ss = listeningSockets().filter((s) => s.port === agent.port);
        assert.ok(ss.every((s) => s.pids.includes(owner.pid)), `ss agrees: ${ss.map((s) => s.line).join(' | ')}`);
      }
    }
    assert.equal(judgeStart({ probe, listener: owner, port: agent.port }).state, 'started');

    // Stop it; a stranger takes the port and answers 200 everywhere.
    assert.equal((await f.ctl('stop', 'agent', 'acme/one')).code, 0);
    await waitRefsDead([...seen.values()]);
    const stranger = spawn(process.execPath, [FAKE_GATEWAY, '--port', String(agent.port)], { env: { FAKE_MODE: 'stranger', PATH: process.env.PATH }, stdio: 'ignore', detached: true });
    stranger.unref();
    strangerPid = stranger.pid!;
    await waitFor(() => fetch(`http://127.0.0.1:${agent.port}/healthz`).then((r) => r.ok), { timeoutMs: 10_000 });
    const fooled = await probeGateway(agent.port, 2000);
    assert.equal(fooled.live, true, 'probes alone are fooled');
    assert.equal(fooled.startup?.state, 'started');
    const foreign = createListenerCheck()(agent.port, []);
    assert.equal(foreign.owner, 'stranger');
    const verdict = judgeStart({ probe: fooled, listener: foreign, port: agent.port });
    assert.deepEqual(verdict, { state: 'foreign', reason: `port ${agent.port} is held by pid ${strangerPid} (node), not by this agent's gateway` });
  } finally {
    if (strangerPid && alive(strangerPid)) process.kill(strangerPid, 'SIGKILL');
    await stopFleetd(f);
    await waitRefsDead([...seen.values()]);
    await cleanup(dir);
  }
});
