// Watching the fleet through the BUILT fleetd: `fleetctl events -f` shows a kill and the
// restart that follows (and ends cleanly when fleetd stops); /metrics parsed with a
// Prometheus text-format parser; systemd readiness (READY, STATUS, RELOADING, WATCHDOG,
// STOPPING) sent through the real systemd-notify to a stand-in notify socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { waitFor } from '../../src/util/wait-for.js';
import { FIXTURES } from '../support/paths.js';
import { parsePrometheus, sampleValue } from '../support/prometheus.js';
import { cleanup, fakeManifest, fakePids, processPortBase, run, spawnCtl, startFleetd, stopFleetd, tempDir, waitAllDead, waitForAgent, waitForRunning, withFleetd, writeManifest, FLEETD } from './harness.js';

test('fleetctl events -f shows a kill -9 and the restart that follows, then ends when fleetd stops', { timeout: 60_000 }, async () => {
  const dir = await tempDir();
  const seen: number[] = [];
  const f = await startFleetd(dir, fakeManifest({ acme: { agents: { a: {}, b: {} } } }), { waitRunning: 2 });
  try {
    const follower = spawnCtl(f, '--json', 'events', '-f', '-n', '0');
    await waitFor(() => f.ctl('events', '-n', '1').then((r) => r.code === 0), { timeoutMs: 5000 });
    const [victim] = (await waitForRunning(f, 2)).filter((a) => a.address === 'acme/a');
    seen.push(...(await fakePids(f.stateDir, 'acme/a')), ...(await fakePids(f.stateDir, 'acme/b')));
    // the follower is connected once fleetd counts it... give it a marker event to prove it reads
    await waitFor(async () => (await f.ctl('events', '-n', '100')).stdout.includes('"event":"ready"'), { timeoutMs: 5000 });
    process.kill(victim.pid, 'SIGKILL');
    const events = await waitFor(
      () => {
        const got = follower.stdout().trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
        const exit = got.findIndex((e) => e.type === 'agent.exit' && e.address === 'acme/a' && e.signal === 'SIGKILL' && e.pid === victim.pid);
        const restart = got.findIndex((e) => e.type === 'agent.restart' && e.address === 'acme/a');
        const running = got.findIndex((e, i) => i > restart && e.type === 'agent.state' && e.address === 'acme/a' && e.to === 'running');
        return exit >= 0 && restart > exit && running > restart ? got : undefined;
      },
      { timeoutMs: 20_000, what: `exit, restart and running events in:\n${follower.stdout()}` },
    );
    const seqs = events.map((e) => e.seq);
    assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), 'in seq order');
    const backoff = events.find((e) => e.type === 'agent.state' && e.to === 'backoff');
    assert.match(backoff.reason, /killed by SIGKILL/);
    seen.push(...(await fakePids(f.stateDir, 'acme/a')));

    // the human form names what happened
    const human = await run(process.execPath, [join(FLEETD, '..', 'fleetctl.js'), '--socket', f.socket, 'events', '--since', String(seqs[0]! - 1)]);
    assert.match(human.stdout, /agent\.exit acme\/a: pid \d+ killed by SIGKILL after/);
    assert.match(human.stdout, /agent\.restart acme\/a: restart 1 \(restart 1 after backoff/);

    await stopFleetd(f);
    assert.equal(await follower.exited, 0, `the follower ends cleanly with fleetd: ${follower.stderr()}`);
    assert.match(follower.stdout(), /"event":"stopping"/);
  } finally {
    await stopFleetd(f);
    await waitAllDead(seen);
    await cleanup(dir);
  }
});

test('/metrics on loopback: parsed with a Prometheus text-format parser', { timeout: 60_000 }, async () => {
  const port = processPortBase() + 99; // inside this process's range, never a gateway port
  const manifest = fakeManifest({ acme: { agents: { a: {}, b: {} } } }, { metrics: { listen: `127.0.0.1:${port}` } });
  await withFleetd(manifest, { waitRunning: 2 }, async (f, seen) => {
    seen.push(...(await fakePids(f.stateDir, 'acme/a')));
    const victim = (await fakePids(f.stateDir, 'acme/b'))[0]!;
    seen.push(...(await fakePids(f.stateDir, 'acme/b')));
    process.kill(victim, 'SIGKILL');
    await waitForAgent(f, 'acme/b', (a) => a.state === 'running' && a.restarts === 1);
    seen.push(...(await fakePids(f.stateDir, 'acme/b')));
    // tree RSS and CPU come from fleetd's shared /proc scan, at most 1 s old: acme/b's new pid is in the next one
    const m = await waitFor(async () => {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      const parsed = parsePrometheus(await res.text());
      return ['acme/a', 'acme/b'].every((agent) => sampleValue(parsed, 'fleetd_agent_memory_rss_bytes', { agent }) !== undefined) ? parsed : undefined;
    }, { timeoutMs: 5000, what: 'a scrape with both agents\' tree RSS' });
    for (const agent of ['acme/a', 'acme/b']) {
      assert.equal(sampleValue(m, 'fleetd_agent_state', { agent, state: 'running' }), 1, agent);
      assert.equal(sampleValue(m, 'fleetd_agent_up', { agent }), 1);
      assert.equal(sampleValue(m, 'fleetd_agent_ready', { agent }), 1);
      assert.ok((sampleValue(m, 'fleetd_agent_memory_rss_bytes', { agent }) ?? 0) > 10_000_000, 'a Node process tree');
      assert.ok((sampleValue(m, 'fleetd_agent_cpu_seconds_total', { agent }) ?? -1) >= 0);
      assert.ok((sampleValue(m, 'fleetd_agent_uptime_seconds', { agent }) ?? -1) >= 0);
    }
    assert.equal(sampleValue(m, 'fleetd_agent_restarts_total', { agent: 'acme/b' }), 1);
    assert.equal(sampleValue(m, 'fleetd_agent_last_exit_code', { agent: 'acme/b' }), 137, 'SIGKILL');
    assert.ok(Number(m.get('fleetd_agent_probe_duration_seconds')?.metrics[0]?.buckets?.['+Inf'] ?? 0) > 0, 'probes are timed');
    assert.ok((sampleValue(m, 'fleetd_events_total', { type: 'agent.exit' }) ?? 0) >= 1);
    assert.equal(sampleValue(m, 'fleetd_rollout_active'), 0);
    assert.ok((sampleValue(m, 'fleetd_process_resident_memory_bytes') ?? 0) > 0, 'fleetd\'s own process');
    assert.equal((await fetch(`http://127.0.0.1:${port}/`)).status, 404);
  });
});

test('metrics on a non-loopback address need allowNonLoopback: fleetd validate says so', async () => {
  const dir = await tempDir();
  try {
    const path = await writeManifest(dir, fakeManifest({}, { metrics: { listen: '0.0.0.0:9464' } }));
    const r = await run(process.execPath, [FLEETD, 'validate', '--manifest', path]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /metrics\.listen: metrics name every agent and have no authentication: .*allowNonLoopback: true, found "0\.0\.0\.0:9464"/);
  } finally {
    await cleanup(dir);
  }
});

test('systemd readiness through systemd-notify: READY with STATUS once start-up is planned, RELOADING/READY on SIGHUP, WATCHDOG pings, STOPPING', { timeout: 60_000 }, async (t) => {
  if (spawnSync('systemd-notify', ['--version']).status !== 0 || spawnSync('python3', ['--version']).status !== 0) return t.skip('needs systemd-notify and python3');
  const dir = await tempDir();
  const socket = join(dir, 'notify.sock');
  const listener = spawn('python3', [join(FIXTURES, 'notify-listener.py'), socket], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  listener.stdout.on('data', (d) => (out += d));
  const seen: number[] = [];
  const messages = () => out.trim().split('\n').map((l) => JSON.parse(l) as { fields?: string[] }).flatMap((m) => (m.fields ? [m.fields] : []));
  try {
    await waitFor(() => out.includes('listening'), { timeoutMs: 10_000 });
    const env = { ...process.env, NOTIFY_SOCKET: socket, WATCHDOG_USEC: '1000000' };
    const f = await startFleetd(dir, fakeManifest({ acme: { agents: { a: {} } } }), { env, waitRunning: 1 });
    try {
      seen.push(...(await fakePids(f.stateDir, 'acme/a')));
      await waitFor(() => messages().some((m) => m[0] === 'READY=1'), { timeoutMs: 10_000, what: 'READY=1' });
      const ready = messages().find((m) => m[0] === 'READY=1')!;
      assert.match(ready[1] ?? '', /^STATUS=1 agent/);
      await waitFor(() => messages().filter((m) => m[0] === 'WATCHDOG=1').length >= 2, { timeoutMs: 10_000, what: 'two watchdog pings' });
      await waitFor(() => messages().some((m) => m[0]?.startsWith('STATUS=1 agent: 1 running')), { timeoutMs: 10_000, what: 'a status line with the agent running' });
      f.child.kill('SIGHUP');
      await waitFor(() => messages().findIndex((m) => m[0] === 'RELOADING=1') >= 0, { timeoutMs: 10_000, what: 'RELOADING=1' });
      const reloading = messages().findIndex((m) => m[0] === 'RELOADING=1');
      assert.match(messages()[reloading]![1] ?? '', /^MONOTONIC_USEC=\d+$/);
      await waitFor(() => messages().some((m, i) => i > reloading && m[0] === 'READY=1'), { timeoutMs: 10_000, what: 'READY=1 after the reload' });
      assert.equal(await stopFleetd(f), 0);
      await waitFor(() => messages().some((m) => m[0] === 'STOPPING=1'), { timeoutMs: 10_000, what: 'STOPPING=1' });
    } finally {
      await stopFleetd(f);
    }
  } finally {
    listener.kill('SIGKILL');
    await waitAllDead(seen);
    await cleanup(dir);
  }
});
