// Live restore with REAL OpenClaw gateways (issue "Every agent in its own cgroup and OS
// user": live restore): fleetd is SIGKILLed and started again, and later restarted with
// `fleetctl daemon restart` (without systemd it starts its successor itself); each time
// both gateways keep their pids and are adopted without a restart (restart counts kept,
// uptime continuing), and /healthz of each is never down for longer than a probe interval.
// An adopted gateway killed in between comes back by itself, with its new boot in
// gateway.log. `daemon stop` then leaves nothing. Run under the heavy-run lock (two real
// gateways).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { ProcRef } from '../../src/supervise/proc.js';
import { waitFor } from '../../src/util/wait-for.js';
import { alive, cleanup, gatewayLog, startFleetd, status, stopFleetd, tempDir, type Fleetd } from './harness.js';
import { FIRST_START_TIMEOUT_MS, httpRequest, livingRefs, processesMentioning, realManifest, trackTrees, waitRefsDead } from './real-harness.js';

const AGENTS = ['acme/one', 'acme/two'];
const PROBE_INTERVAL_MS = 2000; // realManifest's health.intervalMs

/** Polls /healthz of each port until stopped; keeps the longest outage (ms from the first failed poll to the next answer) per port. */
function watchHealth(ports: number[]): { stop: () => Promise<Map<number, { polls: number; failed: number; longestOutageMs: number }>> } {
  const stats = new Map(ports.map((p) => [p, { polls: 0, failed: 0, longestOutageMs: 0 }]));
  let running = true;
  const loops = ports.map(async (port) => {
    const s = stats.get(port)!;
    let downSince: number | null = null;
    while (running) {
      const ok = await httpRequest(`http://127.0.0.1:${port}/healthz`, { timeoutMs: 1500 }).then((r) => r.status === 200, () => false);
      s.polls++;
      const now = Date.now();
      if (ok) {
        if (downSince !== null) s.longestOutageMs = Math.max(s.longestOutageMs, now - downSince);
        downSince = null;
      } else {
        s.failed++;
        downSince ??= now;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    if (downSince !== null) s.longestOutageMs = Math.max(s.longestOutageMs, Date.now() - downSince);
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return stats;
    },
  };
}

describe('live restore of real OpenClaw gateways', { timeout: 15 * 60_000 }, () => {
  const seen = new Map<string, ProcRef>();
  let dir = '';
  let f: Fleetd;
  const manifest = realManifest({ acme: { agents: { one: {}, two: {} } } });
  const byAddress = async () => new Map((await status(f)).map((a) => [a.address, a]));

  before(async () => {
    dir = await tempDir();
    f = await startFleetd(dir, manifest);
    await waitFor(async () => (await status(f)).filter((a) => a.state === 'running').length === AGENTS.length, {
      timeoutMs: FIRST_START_TIMEOUT_MS,
      intervalMs: 1000,
      what: 'both real gateways running',
    });
    trackTrees(seen, (await status(f)).map((a) => a.pid));
  }, { timeout: FIRST_START_TIMEOUT_MS + 60_000 });

  after(async () => {
    if (f && f.child.exitCode === null && f.child.signalCode === null) await stopFleetd(f);
    else if (f) await f.ctl('daemon', 'stop'); // a successor that `daemon restart` started (not our child)
    await waitRefsDead(seen.values()).catch(() => {
      for (const ref of livingRefs(seen.values())) {
        try {
          process.kill(ref.pid, 'SIGKILL'); // last resort, our own gateway processes only (pid + start time)
        } catch {
          // gone meanwhile
        }
      }
    });
    if (dir) await cleanup(dir);
  });

  /** Lets `leave` end this fleetd and bring up the next one, then checks that it adopted both gateways. */
  async function handOver(leave: () => Promise<void>): Promise<void> {
    const before = await byAddress();
    const health = watchHealth(AGENTS.map((a) => before.get(a)!.port));
    await leave();
    const after = await waitFor(async () => {
      const r = await f.ctl('status');
      if (r.code !== 0) return undefined;
      const m = new Map<string, any>(r.json.agents.map((a: any) => [a.address, a]));
      return AGENTS.every((a) => m.get(a)?.state === 'running') ? m : undefined;
    }, { timeoutMs: 60_000, intervalMs: 500, what: 'both gateways running under the next fleetd' });
    const outages = await health.stop();
    for (const address of AGENTS) {
      const was = before.get(address)!;
      const now = after.get(address)!;
      assert.equal(now.pid, was.pid, `${address} keeps its pid`);
      assert.equal(now.restarts, was.restarts, `${address} was not restarted`);
      assert.match(now.reason, /^adopted from a previous fleetd: pid \d+ on port \d+, up /);
      assert.ok(now.uptimeMs >= was.uptimeMs, `${address}: uptime continues (${was.uptimeMs} -> ${now.uptimeMs} ms)`);
      const o = outages.get(was.port)!;
      assert.ok(o.polls > 0);
      assert.ok(o.longestOutageMs < PROBE_INTERVAL_MS, `${address}: /healthz down for ${o.longestOutageMs} ms (${o.failed} of ${o.polls} polls failed)`);
    }
  }

  test('fleetd SIGKILL, then a new fleetd: both gateways adopted with their pids, restart counts and uptime; /healthz never down a probe interval', async () => {
    await handOver(async () => {
      f.child.kill('SIGKILL');
      await f.exited;
      f = await startFleetd(dir, manifest);
    });
  });

  test('kill -9 of an adopted gateway: it comes back on its port with a new pid, its boot in gateway.log', async () => {
    const was = (await byAddress()).get('acme/two')!;
    const logBefore = (await readFile(gatewayLog(f.stateDir, 'acme/two'), 'utf8')).length;
    process.kill(was.pid, 'SIGKILL');
    const back = await waitFor(async () => {
      const a = (await byAddress()).get('acme/two');
      return a?.state === 'running' && a.pid !== was.pid ? a : undefined;
    }, { timeoutMs: 180_000, intervalMs: 1000, what: 'acme/two back after kill -9' });
    trackTrees(seen, [back.pid]);
    assert.equal(back.port, was.port);
    assert.equal(back.restarts, was.restarts + 1);
    const text = (await readFile(gatewayLog(f.stateDir, 'acme/two'), 'utf8')).slice(logBefore);
    assert.match(text, new RegExp(`pid ${was.pid} killed by SIGKILL`), 'the exit of the adopted gateway is in its log');
    assert.match(text, /spawned pid \d+/, 'and so is the new spawn');
    assert.ok(alive((await byAddress()).get('acme/one')!.pid), 'acme/one untouched');
  });

  let successor = 0;
  test('fleetctl daemon restart: fleetd starts its successor and exits 0; the successor adopts both gateways', async () => {
    await handOver(async () => {
      const r = await f.ctl('daemon', 'restart');
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.json.leaving, 'restart');
      assert.equal(await f.exited, 0, 'without systemd the old fleetd hands over and exits 0');
    });
    successor = (await f.ctl('status')).json.daemon.pid;
    assert.notEqual(successor, f.child.pid);
  });

  test('fleetctl daemon stop (SIGTERM\'s stop) stops every gateway and leaves no process naming the state dir', async () => {
    trackTrees(seen, (await status(f)).map((a) => a.pid));
    const r = await f.ctl('daemon', 'stop');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(alive(successor), false, 'fleetctl waited until fleetd exited');
    await waitRefsDead(seen.values(), 60_000);
    assert.deepEqual(processesMentioning(f.stateDir), []);
  });
});
