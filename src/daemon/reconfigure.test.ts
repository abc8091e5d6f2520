// A reconfigure against a real process: the fake gateway (test/fixtures/fake-gateway.mjs)
// under a real runner, its output captured to gateway.log, its openclaw.json rewritten while
// it runs. Each case checks the outcome, the runner's state and reason, and the pid.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rename, writeFile } from 'node:fs/promises';
import JSON5 from 'json5';
import type { ProvisionedConfig } from '../provision/provision-agent.js';
import type { ReconfigureOutcome } from '../protocol/schemas.js';
import { probeStartup } from '../supervise/startup-probe.js';
import { waitFor } from '../util/wait-for.js';
import { memoryLogger, withFakeRunner, type FakeRunnerContext } from '../../test/support/testkit.js';
import { reconfigureAgent, type ReconfigureJob } from './reconfigure.js';

const limits = { confirmMs: 5000, restartMs: 5000, deferMs: 1000 };

/** Writes the agent's openclaw.json with `edit` applied (temp + rename, as fleetd does) and describes the write. */
async function rewrite(ctx: FakeRunnerContext, edit: (config: Record<string, any>) => void): Promise<ProvisionedConfig> {
  const config = JSON5.parse(await readFile(ctx.agent.configPath, 'utf8'));
  edit(config);
  const text = `${JSON.stringify(config, null, 2)}\n`;
  await writeFile(`${ctx.agent.configPath}.tmp`, text, { mode: 0o600 });
  await rename(`${ctx.agent.configPath}.tmp`, ctx.agent.configPath);
  return { configPath: ctx.agent.configPath, hash: 'h', written: true, text, overrides: [] };
}

/** Starts the runner and waits until the fake has accepted its first config (its last-good copy exists). */
async function running(ctx: FakeRunnerContext): Promise<number> {
  await ctx.runner.start();
  const status = await ctx.runner.waitForState('running', 10_000);
  await ctx.fakeOf(status.pid);
  await waitFor(() => readFile(`${ctx.agent.configPath}.last-good`).then(() => true, () => false), { timeoutMs: 5000, what: 'first last-good' });
  return status.pid!;
}

/** Runs one reconfigure of the fake with `edit`; `notRunning` counts the times the agent was asked what to do instead, `applied` the pids told applied. */
function job(ctx: FakeRunnerContext, edit: (config: Record<string, any>) => void, over: Partial<ReconfigureJob> = {}): { job: ReconfigureJob; notRunning: number[]; applied: Array<[number, string]> } {
  const notRunning: number[] = [];
  const applied: Array<[number, string]> = [];
  return {
    notRunning,
    applied,
    job: {
      address: 'test/agent',
      reason: 'openclaw.json changed',
      runner: ctx.runner,
      logFile: ctx.agent.spec.logFile,
      writeConfig: async (beforeWrite) => {
        await beforeWrite();
        return rewrite(ctx, edit);
      },
      onWritten: () => undefined,
      onApplied: (pid, hash) => void applied.push([pid, hash]),
      notRunning: () => {
        notRunning.push(1);
        return 'it is stopped, not running: its next launch provisions the new openclaw.json';
      },
      limits,
      signal: new AbortController().signal,
      log: memoryLogger(),
      ...over,
    },
  };
}

/** The outcome, with the runner settled afterwards (running again, or whatever the restart led to). */
async function reconfigure(ctx: FakeRunnerContext, edit: (config: Record<string, any>) => void, over: Partial<ReconfigureJob> = {}): Promise<ReconfigureOutcome> {
  const outcome = await reconfigureAgent(job(ctx, edit, over).job);
  assert.notEqual(ctx.runner.status().state, 'reconfiguring', 'a reconfigure always ends');
  return outcome;
}

describe('reconfigure of a running fake gateway', () => {
  test('a hot key: applied in place, same pid, running with the reason', () =>
    withFakeRunner({}, async (ctx) => {
      const pid = await running(ctx);
      const { job: j, applied } = job(ctx, (c) => (c.tools = { profile: 'coding' }));
      const outcome = await reconfigureAgent(j);
      assert.equal(outcome.result, 'applied', outcome.reason);
      assert.equal(outcome.pid, pid);
      assert.deepEqual(applied, [[pid, 'h']], 'the agent hears which process took which hash (live restore keeps it)');
      assert.match(outcome.reason, /^openclaw\.json changed; applied in place by pid \d+: hot reload \(tools\.profile\) after /);
      const status = ctx.runner.status();
      assert.equal(status.state, 'running');
      assert.equal(status.pid, pid);
      assert.equal(status.reason, outcome.reason);
      assert.equal(status.restarts, 0);
      assert.deepEqual(ctx.states, ['starting', 'running', 'reconfiguring', 'running']);
    }));

  test('a key that needs no reload action (logging.*): applied, confirmed by openclaw.json.last-good', () =>
    withFakeRunner({}, async (ctx) => {
      const pid = await running(ctx);
      const outcome = await reconfigure(ctx, (c) => (c.logging.level = 'debug'));
      assert.equal(outcome.result, 'applied', outcome.reason);
      assert.match(outcome.reason, /accepted \(logging\.level\), no reload action needed/);
      assert.equal(ctx.runner.status().pid, pid);
    }));

  test('a key that needs a restart: OpenClaw-style in-process restart, same pid, uptime from 0', () =>
    withFakeRunner({}, async (ctx) => {
      const pid = await running(ctx);
      const before = await probeStartup(ctx.agent.port, 1000);
      const beforeAt = Date.now();
      const outcome = await reconfigure(ctx, (c) => (c.gateway.controlUi = { basePath: '/openclaw' }));
      assert.equal(outcome.result, 'applied', outcome.reason);
      assert.match(outcome.reason, /in-process restart \(gateway\.controlUi\.basePath\), back after/);
      assert.equal(ctx.runner.status().pid, pid);
      assert.equal(ctx.runner.status().state, 'running');
      const after = await probeStartup(ctx.agent.port, 1000);
      // without a restart the uptime would have grown by the time that passed; it (re)started later than that
      const expected = before.uptimeMs! + (Date.now() - beforeAt);
      assert.ok(after.uptimeMs !== null && after.uptimeMs < expected - 100, `uptime ${before.uptimeMs} -> ${after.uptimeMs}, ${expected} without a restart`);
    }));

  test('an edit the gateway rejects: restarted, and the reason says the gateway rejected it', () =>
    withFakeRunner({}, async (ctx) => {
      const pid = await running(ctx);
      const { job: j, applied } = job(ctx, (c) => (c.fakeFail = true));
      const outcome = await reconfigureAgent(j);
      assert.equal(outcome.result, 'restarted');
      assert.deepEqual(applied, []);
      // what really happens: fleetd restarts it (never "keeps running the previous one"), and the restart fails
      assert.match(outcome.reason, /not applied in place, so fleetd restarts the agent on the new file: the gateway rejected the new openclaw\.json \(Unrecognized key: "fakeFail"\), which it will refuse at start too \(exit 78: failed until the manifest is fixed\)/);
      assert.doesNotMatch(outcome.reason, /keeps running/);
      // the restarted gateway refuses the same file at start (exit 78): failed, as OpenClaw would
      const status = await ctx.runner.waitForState('failed', 10_000);
      assert.notEqual(status.pid, pid);
      assert.equal(status.restarts, 1);
    }));

  test('gateway.reload.mode "off": restarted with that reason; the new process runs', () =>
    withFakeRunner({}, async (ctx) => {
      const pid = await running(ctx);
      const outcome = await reconfigure(ctx, (c) => {
        c.gateway.reload = { mode: 'off' };
        c.tools = { profile: 'coding' };
      });
      assert.equal(outcome.result, 'restarted');
      assert.match(outcome.reason, /gateway\.reload\.mode=off/);
      const status = await ctx.runner.waitForState('running', 10_000);
      assert.notEqual(status.pid, pid);
      await ctx.fakeOf(status.pid);
    }));

  test('a gateway that never reacts (no-watch): restarted after confirmMs, saying it did not react', () =>
    withFakeRunner({ mode: 'no-watch' }, async (ctx) => {
      const pid = await running(ctx);
      const outcome = await reconfigure(ctx, (c) => (c.tools = { profile: 'coding' }), { limits: { ...limits, confirmMs: 800 } });
      assert.equal(outcome.result, 'restarted');
      assert.match(outcome.reason, /did not confirm within 800 ms: it did not react to the new file/);
      const status = await ctx.runner.waitForState('running', 10_000);
      assert.notEqual(status.pid, pid);
      await ctx.fakeOf(status.pid);
    }));

  test('a restart OpenClaw will not do itself (no restart owner): restarted by fleetd', () =>
    withFakeRunner({ mode: 'restart-refused' }, async (ctx) => {
      await running(ctx);
      const outcome = await reconfigure(ctx, (c) => (c.gateway.controlUi = { basePath: '/x' }));
      assert.equal(outcome.result, 'restarted');
      assert.match(outcome.reason, /needs a gateway restart that OpenClaw will not do itself/);
      await ctx.fakeOf((await ctx.runner.waitForState('running', 10_000)).pid);
    }));

  test('an in-process restart that never comes back: restarted once restartMs is over', () =>
    withFakeRunner({ mode: 'restart-hang' }, async (ctx) => {
      await running(ctx);
      const outcome = await reconfigure(ctx, (c) => (c.gateway.controlUi = { basePath: '/x' }), { limits: { ...limits, restartMs: 1000 } });
      assert.equal(outcome.result, 'restarted');
      assert.match(outcome.reason, /in-process restart \(gateway\.controlUi\.basePath\) did not come back "started" within 1 s/);
      await ctx.fakeOf((await ctx.runner.waitForState('running', 10_000)).pid);
    }));

  test('not running when its turn comes: the agent says what instead (left to its next launch), nothing written', () =>
    withFakeRunner({}, async (ctx) => {
      let wrote = false;
      const { job: j, notRunning, applied } = job(ctx, () => undefined, { writeConfig: async () => ((wrote = true), { configPath: '', hash: '', written: false, text: undefined, overrides: [] }) });
      const outcome = await reconfigureAgent(j);
      assert.equal(outcome.result, 'skipped');
      assert.equal(outcome.reason, 'openclaw.json changed; it is stopped, not running: its next launch provisions the new openclaw.json');
      assert.equal(notRunning.length, 1);
      assert.deepEqual(applied, []);
      assert.equal(wrote, false);
      assert.equal(ctx.runner.status().state, 'stopped');
    }));

  test('a stop while it waits ends the watch at once, without a restart', () =>
    withFakeRunner({ mode: 'no-watch' }, async (ctx) => {
      const pid = await running(ctx);
      const pending = reconfigureAgent(job(ctx, (c) => (c.tools = { profile: 'coding' }), { limits: { ...limits, confirmMs: 60_000 } }).job);
      await ctx.runner.waitForState('reconfiguring', 5000);
      await waitFor(() => ctx.runner.status().reason.includes('pick up the new file'), { timeoutMs: 5000, what: 'the watch to begin' });
      await ctx.runner.stop();
      const outcome = await pending;
      assert.equal(outcome.result, 'skipped');
      assert.equal(outcome.pid, pid);
      assert.equal(ctx.runner.status().state, 'stopped');
    }));

  test('a file that already holds the values: applied without waiting for the gateway', () =>
    withFakeRunner({}, async (ctx) => {
      const pid = await running(ctx);
      const { job: j } = job(ctx, () => undefined, { writeConfig: async () => ({ configPath: ctx.agent.configPath, hash: 'h', written: false, text: undefined, overrides: [] }) });
      const outcome = await reconfigureAgent(j);
      assert.equal(outcome.result, 'applied');
      assert.match(outcome.reason, /already held these values/);
      assert.equal(ctx.runner.status().pid, pid);
    }));
});
