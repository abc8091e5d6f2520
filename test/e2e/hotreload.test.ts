// End to end (fake gateway, built fleetd and fleetctl): a reload that changes only an agent's
// openclaw.json is applied by the running gateway itself (same pid), hot or by its own
// in-process restart; status shows `reconfiguring` while fleetd watches; when the gateway does
// not take the change (rejected, never reacts, reload mode off) fleetd restarts the agent and
// says why; env changes still restart; OpenClaw's own keys survive.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import JSON5 from 'json5';
import { waitFor } from '../../src/util/wait-for.js';
import { ctlText, agentHome, cleanup, fakeInfo, fakeManifest, gatewayLog, spawnCtl, startFleetd, status, stopFleetd, tempDir, waitAllDead, waitForAgent, writeManifest, type Fleetd } from './harness.js';


describe('hot reload: config-only changes applied by the running gateway', () => {
  let dir: string;
  let f: Fleetd;
  let manifest: any;
  const seen = new Set<number>();

  /** Current pid of an agent's fake gateway (and its helpers remembered for the final check). */
  const pidOf = async (address: string): Promise<number> => {
    const info = await fakeInfo(f.stateDir, address);
    for (const p of [info.pid, info.helperPid, info.workerPid]) seen.add(p);
    return info.pid;
  };
  const view = async (address: string) => (await status(f)).find((a) => a.address === address);
  const configOf = async (address: string) => JSON5.parse(await readFile(join(agentHome(f.stateDir, address), '.openclaw', 'openclaw.json'), 'utf8'));
  const reload = async (edit: (m: any) => void) => {
    edit(manifest);
    await writeManifest(dir, manifest);
    return f.ctl('reload');
  };

  before(async () => {
    dir = await tempDir();
    manifest = fakeManifest({
      acme: {
        agents: {
          one: { config: { tools: { profile: 'minimal' } } },
          lazy: { config: { tools: { profile: 'minimal' } }, env: { FAKE_MODE: 'no-watch' } },
          other: {},
          held: { config: { tools: { profile: 'minimal' } } },
        },
      },
    });
    manifest.fleets.acme.agents.held.env = { FAKE_MODE: `reload-when:${join(dir, 'apply-held')}` };
    manifest.gateway.reloadTimeoutMs = 4000;
    f = await startFleetd(dir, manifest, { waitRunning: 4 });
    for (const a of ['acme/one', 'acme/lazy', 'acme/other', 'acme/held']) await pidOf(a);
  });

  after(async () => {
    if (f) assert.equal(await stopFleetd(f), 0);
    await waitAllDead([...seen]);
    await cleanup(dir);
  });

  test('a hot key: reconfigure, applied in place on the same pid; the human output says so', async () => {
    const pid = await pidOf('acme/one');
    const other = await pidOf('acme/other');
    manifest.fleets.acme.agents.one.config.tools.profile = 'coding';
    await writeManifest(dir, manifest);
    const dry = await ctlText(f, 'reload', '--dry-run');
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^reconfigure acme\/one: openclaw\.json changed$/m);
    const r = await ctlText(f, 'reload');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^reconfigure acme\/one: openclaw\.json changed$/m);
    assert.match(r.stdout, /^ {2}acme\/one: openclaw\.json changed; applied in place by pid \d+: hot reload \(tools\.profile\) after .+$/m);
    const one = await view('acme/one');
    assert.equal(one.state, 'running');
    assert.equal(one.pid, pid);
    assert.equal(one.restarts, 0);
    assert.match(one.reason, /applied in place/);
    assert.equal(await pidOf('acme/one'), pid, 'the fake did not start again');
    assert.equal(await pidOf('acme/other'), other);
    assert.equal((await configOf('acme/one')).tools.profile, 'coding');
    const log = await readFile(gatewayLog(f.stateDir, 'acme/one'), 'utf8');
    assert.match(log, /\[reload\] config hot reload applied \(tools\.profile\)/, 'the gateway\'s own lines are in its captured log');
  });

  test('a key that needs a restart: OpenClaw-style in-process restart, same pid, reported as such', async () => {
    const pid = await pidOf('acme/one');
    const r = await reload((m) => (m.fleets.acme.agents.one.config.gateway = { controlUi: { basePath: '/openclaw' } }));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.json.actions.map((a: any) => a.kind), ['reconfigure']);
    const [outcome] = r.json.reconfigured;
    assert.equal(outcome.result, 'applied', outcome.reason);
    assert.equal(outcome.pid, pid);
    assert.match(outcome.reason, /in-process restart \(gateway\.controlUi\.basePath\)/);
    assert.equal((await view('acme/one')).pid, pid);
    assert.equal(await pidOf('acme/one'), pid);
  });

  test('OpenClaw\'s own write to openclaw.json survives a reconfigure', async () => {
    const path = join(agentHome(f.stateDir, 'acme/one'), '.openclaw', 'openclaw.json');
    const config = JSON5.parse(await readFile(path, 'utf8'));
    config.agents.defaults.heartbeat = { every: '2h' };
    await writeFile(`${path}.tmp`, JSON.stringify(config, null, 2), { mode: 0o600 });
    await rename(`${path}.tmp`, path);
    // the fake applies OpenClaw's own edit too; wait until it did so it is not mixed with ours
    await waitFor(async () => (await readFile(`${path}.last-good`, 'utf8')).includes('"every": "2h"'), { timeoutMs: 5000, what: 'the fake to accept the OpenClaw-style write' });
    const pid = await pidOf('acme/one');
    const r = await reload((m) => (m.fleets.acme.agents.one.config.session = { dmScope: 'main' }));
    assert.equal(r.json.reconfigured[0].result, 'applied', r.json.reconfigured[0].reason);
    const after = await configOf('acme/one');
    assert.deepEqual(after.agents.defaults.heartbeat, { every: '2h' });
    assert.equal(after.session.dmScope, 'main');
    assert.equal(await pidOf('acme/one'), pid);
  });

  test('a gateway that never applies edits: status shows reconfiguring, then fleetd restarts it and says why', async () => {
    const pid = await pidOf('acme/lazy');
    manifest.fleets.acme.agents.lazy.config.tools.profile = 'coding';
    await writeManifest(dir, manifest);
    const pending = spawnCtl(f, '--json', 'reload');
    const during = await waitForAgent(f, 'acme/lazy', (a) => a.state === 'reconfiguring', 10_000);
    assert.equal(during.pid, pid);
    assert.match(during.reason, /^openclaw\.json changed; /);
    assert.equal(await pending.exited, 0, pending.stderr());
    const answer = JSON.parse(pending.stdout());
    assert.equal(answer.reconfigured[0].result, 'restarted');
    assert.match(answer.reconfigured[0].reason, /not applied in place, so fleetd restarts the agent on the new file: the gateway did not confirm within 4 s: it did not react to the new file/);
    const lazy = await waitForAgent(f, 'acme/lazy', (a) => a.state === 'running' && a.pid !== pid);
    assert.equal(lazy.restarts, 1);
    await pidOf('acme/lazy');
  });

  test('a second reload while the first is being applied: the first is superseded, the file and the gateway end with the second', async () => {
    const pid = await pidOf('acme/held');
    manifest.fleets.acme.agents.held.config.tools.profile = 'coding';
    await writeManifest(dir, manifest);
    const first = spawnCtl(f, '--json', 'reload');
    await waitForAgent(f, 'acme/held', (a) => a.state === 'reconfiguring' && /pick up/.test(a.reason), 10_000);
    manifest.fleets.acme.agents.held.config.tools.profile = 'full';
    await writeManifest(dir, manifest);
    const second = spawnCtl(f, '--json', 'reload');
    assert.equal(await first.exited, 0, first.stderr());
    const firstOutcome = JSON.parse(first.stdout()).reconfigured[0];
    assert.equal(firstOutcome.result, 'skipped', firstOutcome.reason);
    // the second reload writes once the first has let go; only then may the gateway react (it reads
    // the file as it is: let go before that write, it applies the first text, and its "hot reload
    // applied" line can reach fleetd after the second write and be taken as that write's proof)
    await waitFor(async () => (await configOf('acme/held')).tools.profile === 'full', { timeoutMs: 10_000, what: 'the second reload written' });
    await writeFile(join(dir, 'apply-held'), '');
    assert.equal(await second.exited, 0, second.stderr());
    const outcome = JSON.parse(second.stdout()).reconfigured[0];
    assert.equal(outcome.result, 'applied', outcome.reason);
    assert.equal(outcome.pid, pid);
    assert.equal((await configOf('acme/held')).tools.profile, 'full');
    const last = await readFile(join(agentHome(f.stateDir, 'acme/held'), '.openclaw', 'openclaw.json.last-good'), 'utf8');
    assert.equal(JSON5.parse(last).tools.profile, 'full', 'the gateway runs the second');
    assert.equal(await pidOf('acme/held'), pid);
  });

  test('an edit the gateway rejects: restarted, fails like any start with that file, and starts once fixed', async () => {
    const pid = await pidOf('acme/other');
    const r = await reload((m) => (m.fleets.acme.agents.other.config = { fakeFail: true }));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json.reconfigured[0].result, 'restarted');
    assert.match(r.json.reconfigured[0].reason, /fleetd restarts the agent on the new file: the gateway rejected the new openclaw\.json \(Unrecognized key: "fakeFail"\), which it will refuse at start too/);
    assert.doesNotMatch(r.json.reconfigured[0].reason, /keeps running/, 'the message says what fleetd does: it restarts the agent');
    const failed = await waitForAgent(f, 'acme/other', (a) => a.state === 'failed');
    assert.equal(failed.lastExit.code, 78);
    assert.notEqual(failed.pid, pid);
    const fixed = await reload((m) => (m.fleets.acme.agents.other.config = {}));
    assert.deepEqual(fixed.json.actions.map((a: any) => a.kind), ['start'], 'a failed agent is started, not reconfigured');
    await waitForAgent(f, 'acme/other', (a) => a.state === 'running');
    await pidOf('acme/other');
  });

  test('gateway.reload.mode "off" in the manifest: planned as a restart, with that reason', async () => {
    const pid = await pidOf('acme/other');
    const r = await reload((m) => (m.fleets.acme.agents.other.config = { gateway: { reload: { mode: 'off' } } }));
    assert.deepEqual(r.json.actions.map((a: any) => [a.kind, a.reason]), [['restart', 'openclaw.json changed; gateway.reload.mode is "off", so the gateway does not apply edits itself']]);
    assert.deepEqual(r.json.reconfigured, []);
    await waitForAgent(f, 'acme/other', (a) => a.state === 'running' && a.pid !== pid);
    await pidOf('acme/other');
  });
});
