// End to end against a REAL OpenClaw 2026.9.6 gateway (one): a reload whose only change is
// openclaw.json is applied by the gateway itself, without a cold boot: a hot key keeps the
// pid and the uptime (/startupz uptimeMs keeps growing), a key that needs no reload action is
// confirmed through openclaw.json.last-good, a key that needs a restart is restarted by
// OpenClaw in-process (same pid, uptime from 0); an environment change still restarts the
// agent (new pid). Run under the heavy-run lock.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { ProcRef } from '../../src/supervise/proc.js';
import { probeStartup } from '../../src/supervise/startup-probe.js';
import { waitFor } from '../../src/util/wait-for.js';
import { gatewayLog, startFleetd, status, tempDir, writeManifest, type Fleetd } from './harness.js';
import { endRealSuite, FIRST_START_TIMEOUT_MS, realManifest, trackTrees } from './real-harness.js';

const ADDRESS = 'acme/hot';
const BOOT_MS = 180_000;

describe('hot reload of a real OpenClaw gateway', { timeout: 15 * 60_000 }, () => {
  const seen = new Map<string, ProcRef>();
  let dir = '';
  let f: Fleetd;
  let manifest: any;
  const agentConfig = () => manifest.fleets.acme.agents.hot.config;
  const view = async () => (await status(f)).find((a) => a.address === ADDRESS);
  const track = async () => trackTrees(seen, (await status(f)).map((a) => a.pid));
  const reload = async () => {
    await writeManifest(dir, manifest);
    const r = await f.ctl('reload');
    assert.equal(r.code, 0, r.stderr + r.stdout);
    return r.json;
  };
  /** The captured log from byte `from` on. */
  const logSince = async (from: number) => (await readFile(gatewayLog(f.stateDir, ADDRESS))).subarray(from).toString('utf8');
  const logSize = async () => (await readFile(gatewayLog(f.stateDir, ADDRESS))).length;

  before(async () => {
    dir = await tempDir();
    manifest = realManifest({ acme: { agents: { hot: { config: { agents: { defaults: { model: { primary: 'anthropic/claude-sonnet-4-6' } } } } } } } });
    f = await startFleetd(dir, manifest);
    await waitFor(
      async () => {
        const a = await view();
        if (a?.state === 'failed') throw new Error(`${ADDRESS} failed: ${a.reason}`);
        return a?.state === 'running';
      },
      { timeoutMs: FIRST_START_TIMEOUT_MS, intervalMs: 1000, what: 'the real gateway' },
    );
    await track();
  }, { timeout: FIRST_START_TIMEOUT_MS + 60_000 });

  after(() => endRealSuite(f, seen.values(), dir));

  test('a hot key (the agent\'s model): applied in place, same pid, no cold boot', async () => {
    const before = await view();
    // `running` is /healthz; OpenClaw's startup sidecars may still be settling: wait for "started"
    const up = await waitFor(async () => {
      const s = await probeStartup(before.port, 2000);
      return s.state === 'started' ? s : undefined;
    }, { timeoutMs: BOOT_MS, intervalMs: 500, what: '/startupz started' });
    const at = Date.now();
    const from = await logSize();
    agentConfig().agents.defaults.model.primary = 'openai/gpt-6-astra';
    const r = await reload();
    assert.deepEqual(r.actions.map((a: any) => [a.kind, a.address]), [['reconfigure', ADDRESS]]);
    const [outcome] = r.reconfigured;
    assert.equal(outcome.result, 'applied', outcome.reason);
    assert.equal(outcome.pid, before.pid);
    assert.match(outcome.reason, /hot reload \(.*agents\.defaults\.model.*\)/);
    const after = await view();
    assert.equal(after.state, 'running');
    assert.equal(after.pid, before.pid);
    assert.equal(after.restarts, before.restarts);
    // no cold boot: the gateway's uptime kept growing, and it printed no boot line
    const upAfter = await probeStartup(before.port, 2000);
    assert.equal(upAfter.state, 'started');
    assert.ok(upAfter.uptimeMs! >= up.uptimeMs! + (Date.now() - at) - 2000, `uptime ${up.uptimeMs} -> ${upAfter.uptimeMs} over ${Date.now() - at} ms`);
    const log = await logSince(from);
    assert.match(log, /\[reload\] config hot reload applied/);
    assert.doesNotMatch(log, /\[gateway\] starting\.\.\.|spawned pid/);
  });

  test('a key that needs no reload action (logging.level): applied, confirmed by OpenClaw\'s last-good copy', async () => {
    const before = await view();
    agentConfig().logging = { level: 'debug' };
    const r = await reload();
    const [outcome] = r.reconfigured;
    assert.equal(outcome.result, 'applied', outcome.reason);
    assert.match(outcome.reason, /no reload action needed/);
    assert.equal((await view()).pid, before.pid);
  });

  test('a key that needs a gateway restart: OpenClaw restarts in-process, same pid, uptime from 0', async () => {
    const before = await view();
    const up = await probeStartup(before.port, 2000);
    const at = Date.now();
    const from = await logSize();
    agentConfig().gateway = { controlUi: { basePath: '/openclaw' } };
    const r = await reload();
    const [outcome] = r.reconfigured;
    assert.equal(outcome.result, 'applied', outcome.reason);
    assert.match(outcome.reason, /in-process restart \(gateway\.controlUi\.basePath\)/);
    const after = await view();
    assert.equal(after.state, 'running');
    assert.equal(after.pid, before.pid);
    const upAfter = await probeStartup(before.port, 2000);
    assert.equal(upAfter.state, 'started');
    assert.ok(upAfter.uptimeMs! < up.uptimeMs! + (Date.now() - at) - 1000, `uptime ${up.uptimeMs} -> ${upAfter.uptimeMs}: restarted`);
    assert.match(await logSince(from), /restart mode: in-process restart \(OPENCLAW_NO_RESPAWN\)/);
    await track();
  });

  test('fleetctl doctor F/A runs openclaw doctor as the real agent and reports its findings', async () => {
    const r = await f.ctl('doctor', ADDRESS);
    assert.ok(r.json?.checks, r.stderr + r.stdout);
    const oc = r.json.checks.filter((c: any) => c.id === 'openclaw-doctor');
    assert.equal(oc[0].level, 'ok', JSON.stringify(oc, null, 2));
    assert.match(oc[0].detail, /ran as the agent \(`doctor --lint --json`\): \d+ checks run, \d+ finding\(s\)/);
    // what fleetd does on purpose (loopback only, its own token in openclaw.json) is information, not attention
    for (const c of oc.filter((x: any) => /node-hosting-preconditions|core\/doctor\/security/.test(x.title) && /expected:/.test(x.detail))) assert.equal(c.level, 'info');
    assert.ok(!JSON.stringify(r.json).includes('openclaw --profile acme-hot'), 'hints point at fleetctl openclaw');
    const port = r.json.checks.find((c: any) => c.id === 'port');
    assert.equal(port.level, 'ok', port.detail);
    assert.match(port.detail, /held by its gateway's tree/);
    await track();
  });

  test('an environment change still restarts the agent: a new process', async () => {
    const before = await view();
    manifest.fleets.acme.agents.hot.env = { HOTRELOAD_TEST: '1' };
    const r = await reload();
    assert.deepEqual(r.actions.map((a: any) => [a.kind, a.reason]), [['restart', 'environment changed']]);
    assert.deepEqual(r.reconfigured, []);
    const after = await waitFor(
      async () => {
        const a = await view();
        if (a?.state === 'failed') throw new Error(`${ADDRESS} failed: ${a.reason}`);
        return a?.state === 'running' && a.pid !== before.pid ? a : undefined;
      },
      { timeoutMs: BOOT_MS, intervalMs: 1000, what: 'the restarted gateway' },
    );
    assert.notEqual(after.pid, before.pid);
    await track();
  });
});
