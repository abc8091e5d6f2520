// systemd notifications: no-op without NOTIFY_SOCKET; the messages fleetd sends, in order;
// watchdog pings only while the self-check passes; and the real systemd-notify delivering to
// a datagram socket (a Python listener stands in for systemd) when both are installed.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { withTempDir } from '../util/temp-dir.js';
import { waitFor } from '../util/wait-for.js';
import { FIXTURES } from '../../test/support/paths.js';
import { createSdNotifier, systemdNotify } from './sd-notify.js';
import { fleetStatusLine } from './status-line.js';
import { AGENT_STATES } from '../plan/agent-states.js';

/** A sender that records each message. */
function recorder() {
  const sent: Array<{ args: string[]; env: Record<string, string> }> = [];
  return { sent, send: async (args: string[], env: Record<string, string>) => void sent.push({ args, env }) };
}

describe('sd-notify', () => {
  test('without NOTIFY_SOCKET nothing is sent', async () => {
    const r = recorder();
    const sd = createSdNotifier({ env: {}, send: r.send, check: async () => true });
    assert.equal(sd.enabled, false);
    await sd.ready('x');
    await sd.stopping();
    sd.startWatchdog();
    assert.deepEqual(r.sent, []);
  });

  test('READY with STATUS, status only when it changed, RELOADING with a monotonic time, STOPPING; only NOTIFY_SOCKET and PATH reach the child', async () => {
    const r = recorder();
    const sd = createSdNotifier({ env: { NOTIFY_SOCKET: '/run/systemd/notify', PATH: '/usr/bin', SECRET: 'x', WATCHDOG_USEC: 'nope' }, send: r.send });
    await sd.ready('2 agents: 2 running');
    await sd.status('2 agents: 2 running');
    await sd.status('2 agents: 1 running,\n1 backoff');
    await sd.reloading();
    await sd.stopping();
    assert.deepEqual(r.sent.map((m) => m.args[0]), ['READY=1', 'STATUS=2 agents: 1 running, 1 backoff', 'RELOADING=1', 'STOPPING=1']);
    assert.equal(r.sent[0]!.args[1], 'STATUS=2 agents: 2 running');
    assert.match(r.sent[2]!.args[1]!, /^MONOTONIC_USEC=\d+$/);
    assert.deepEqual(r.sent[0]!.env, { NOTIFY_SOCKET: '/run/systemd/notify', PATH: '/usr/bin' });
    assert.equal(sd.watchdogIntervalMs, null);
  });

  test('watchdog: half of WATCHDOG_USEC, a ping after each passing self-check, none while it fails, not for another pid', async () => {
    const r = recorder();
    let healthy = true;
    let tick: () => void = () => {};
    const sd = createSdNotifier({
      env: { NOTIFY_SOCKET: '/s', WATCHDOG_USEC: '30000000' },
      pid: 42,
      send: r.send,
      check: async () => healthy,
      setInterval: (fn, ms) => {
        assert.equal(ms, 15_000);
        tick = fn;
        return {};
      },
      clearInterval: () => {},
    });
    assert.equal(sd.watchdogIntervalMs, 15_000);
    sd.startWatchdog();
    await waitFor(() => r.sent.length === 1, { timeoutMs: 1000 });
    healthy = false;
    tick();
    await new Promise((res) => setImmediate(res));
    await sd.flush();
    healthy = true;
    tick();
    await waitFor(() => r.sent.length === 2, { timeoutMs: 1000 });
    assert.deepEqual(r.sent.map((m) => m.args), [['WATCHDOG=1'], ['WATCHDOG=1']]);
    const other = createSdNotifier({ env: { NOTIFY_SOCKET: '/s', WATCHDOG_USEC: '30000000', WATCHDOG_PID: '7' }, pid: 42, send: r.send });
    assert.equal(other.watchdogIntervalMs, null, 'the watchdog is for pid 7, not us');
  });

  test('a missing systemd-notify is reported once and disables notifications', async () => {
    let calls = 0;
    const warnings: string[] = [];
    const sd = createSdNotifier({
      env: { NOTIFY_SOCKET: '/s' },
      send: async () => {
        calls++;
        throw Object.assign(new Error('spawn systemd-notify ENOENT'), { code: 'ENOENT' });
      },
      logger: { warn: (_o, msg) => void warnings.push(msg) },
    });
    await sd.ready('x');
    await sd.stopping();
    assert.equal(calls, 1);
    assert.deepEqual(warnings, ['systemd-notify is not installed: systemd readiness disabled']);
  });

  test('the real systemd-notify delivers READY=1 and STATUS to the notify socket', async (t) => {
    const probe = spawnSync('systemd-notify', ['--version']);
    const python = spawnSync('python3', ['--version']);
    if (probe.error || probe.status !== 0 || python.error || python.status !== 0) return t.skip('needs systemd-notify and python3');
    await withTempDir(async (dir) => {
      const socket = join(dir, 'notify.sock');
      const listener = spawn('python3', [join(FIXTURES, 'notify-listener.py'), socket], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      listener.stdout.on('data', (d) => (out += d));
      try {
        await waitFor(() => out.includes('listening'), { timeoutMs: 10_000, what: 'the notify listener' });
        await systemdNotify(['READY=1', 'STATUS=3 agents: 3 running'], { NOTIFY_SOCKET: socket, PATH: process.env.PATH ?? '/usr/bin:/bin' });
        await waitFor(() => out.includes('READY=1'), { timeoutMs: 5000, what: 'READY=1' });
        const messages = out.trim().split('\n').map((l) => JSON.parse(l) as { fields?: string[] });
        assert.ok(messages.some((m) => m.fields?.join('|') === 'READY=1|STATUS=3 agents: 3 running'), out);
      } finally {
        listener.kill('SIGKILL');
      }
    });
  });
});

test('status line: agents by state, rollout progress', () => {
  assert.equal(fleetStatusLine([], null), '0 agents');
  assert.equal(fleetStatusLine([{ state: 'running' }, { state: 'failed' }, { state: 'running' }], null), '3 agents: 2 running, 1 failed');
  // every state of the one list is counted (a state added there must not vanish from the line)
  const line = fleetStatusLine(AGENT_STATES.map((state) => ({ state })), null);
  for (const state of AGENT_STATES) assert.match(line, new RegExp(`\\b1 ${state}\\b`), line);
  assert.match(fleetStatusLine([{ state: 'reconfiguring' }, { state: 'running' }], null), /^2 agents: 1 running, 1 reconfiguring$/);
});
