// Federation against the REAL OpenClaw gateway (issue 13, "Done when"): two real agents
// linked one way (acme/hub calls acme/spoke) plus a disabled third (acme/lurker, which
// calls hub, so hub has a hooks token and lurker an address book, without a third
// gateway). The caller's address-book token opens the callee's /hooks/wake and
// /hooks/agent; no token, the gateway tokens and a token from an agent with no link to the
// callee are refused; the callee runs with its knowledge folder in memory.search.extraPaths
// (as OpenClaw itself reports it). Never more than two real gateways.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, realpath, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultRuntimeCacheDir } from '../../src/runtime/cache-dir.js';
import type { ProcRef } from '../../src/supervise/proc.js';
import { waitFor } from '../../src/util/wait-for.js';
import { agentHome, cleanup, startFleetd, status, stopFleetd, tempDir, type Fleetd } from './harness.js';
import { FIRST_START_TIMEOUT_MS, httpRequest, livingRefs, OPENCLAW_VERSION, readEnviron, realManifest, trackTrees, waitRefsDead } from './real-harness.js';

const BOOK = ['workspace', '.fleetd', 'federation', 'address-book.json'];

describe('federation between real OpenClaw gateways', { timeout: 15 * 60_000 }, () => {
  const seen = new Map<string, ProcRef>();
  let dir = '';
  let knowledge = '';
  let f: Fleetd;
  const agentsByAddress = async () => Object.fromEntries((await status(f)).map((a) => [a.address, a]));
  const book = async (address: string) => JSON.parse(await readFile(join(agentHome(f.stateDir, address), ...BOOK), 'utf8'));
  const post = (port: number, path: string, token: string | undefined, body: unknown) =>
    httpRequest(`http://127.0.0.1:${port}/hooks/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-fleet-depth': '1', ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
      timeoutMs: 30_000,
    });

  before(async () => {
    dir = await tempDir();
    knowledge = join(dir, 'koda');
    await mkdir(knowledge);
    await writeFile(join(knowledge, 'east-wing.md'), '# East wing\nThe east wing has three floors.\n');
    const manifest = realManifest(
      {
        acme: {
          agents: {
            hub: { calls: ['acme/spoke'], description: 'talks to people' },
            spoke: { knowledge: ['koda'], description: 'the architect' },
            lurker: { enabled: false, calls: ['acme/hub'] },
          },
        },
      },
      { knowledge: { koda: './koda' } },
    );
    f = await startFleetd(dir, manifest);
    const settled = await waitFor(async () => {
      const agents = (await status(f)).filter((a) => a.enabled);
      return agents.every((a) => a.state === 'running') || agents.some((a) => a.state === 'failed') ? agents : undefined;
    }, { timeoutMs: FIRST_START_TIMEOUT_MS, intervalMs: 1000, what: 'two real gateways running' });
    assert.deepEqual(settled.map((a) => [a.address, a.state]), [['acme/hub', 'running'], ['acme/spoke', 'running']], settled.map((a) => `${a.address}: ${a.reason}`).join('\n'));
    trackTrees(seen, settled.map((a) => a.pid));
  }, { timeout: FIRST_START_TIMEOUT_MS + 60_000 });

  after(async () => {
    if (f) {
      if (f.child.exitCode === null && f.child.signalCode === null) await stopFleetd(f);
      await waitRefsDead(seen.values()).catch(() => {
        for (const ref of livingRefs(seen.values())) process.kill(ref.pid, 'SIGKILL');
      });
    }
    if (dir) await cleanup(dir);
  });

  test('the caller\'s address book lists the callee and no one else', async () => {
    const agents = await agentsByAddress();
    const hub = await book('acme/hub');
    assert.deepEqual(hub.agents.map((a: any) => [a.address, a.url, a.description]), [['acme/spoke', `http://127.0.0.1:${agents['acme/spoke'].port}`, 'the architect']]);
    assert.equal(hub.agents[0].token, (await f.ctl('token', 'acme/spoke', '--hooks')).json.token);
  });

  test('the address-book token opens /hooks/wake and /hooks/agent of the callee', async () => {
    const spoke = (await agentsByAddress())['acme/spoke'];
    const token = (await book('acme/hub')).agents[0].token;
    const wake = await post(spoke.port, 'wake', token, { text: '[from acme/hub, depth 1] the plans are ready' });
    assert.equal(wake.status, 200, wake.body);
    assert.equal(JSON.parse(wake.body).ok, true);
    const ask = await post(spoke.port, 'agent', token, { message: '[from acme/hub, depth 1] how many floors has the east wing?', deliver: false });
    assert.equal(ask.status, 200, ask.body);
    assert.equal(JSON.parse(ask.body).ok, true);
    assert.match(JSON.parse(ask.body).runId, /\S/);
  });

  test('no token, a gateway token, or a token from an agent with no link to the callee is refused', async () => {
    const agents = await agentsByAddress();
    const port = agents['acme/spoke'].port;
    const lurkerBook = await book('acme/lurker');
    assert.deepEqual(lurkerBook.agents.map((a: any) => a.address), ['acme/hub'], 'lurker may call hub only');
    const candidates: [string, string | undefined][] = [
      ['no token', undefined],
      ["the callee's gateway token", (await f.ctl('token', 'acme/spoke')).json.token],
      ["the caller's gateway token", (await f.ctl('token', 'acme/hub')).json.token],
      ["lurker's address-book token (for hub, not spoke)", lurkerBook.agents[0].token],
    ];
    for (const [what, token] of candidates) {
      for (const path of ['wake', 'agent']) {
        const r = await post(port, path, token, path === 'wake' ? { text: 'x' } : { message: 'x' });
        assert.ok(r.status === 401 || r.status === 403, `${what} on /hooks/${path}: expected 401/403, got ${r.status} ${r.body}`);
      }
    }
    // the token lurker holds does open hub, the agent it is linked to
    const toHub = await post(agents['acme/hub'].port, 'wake', lurkerBook.agents[0].token, { text: 'hello hub' });
    assert.equal(toHub.status, 200, toHub.body);
  });

  test('the callee runs with its knowledge folder in memory.search.extraPaths, as OpenClaw reports it', async () => {
    const spoke = (await agentsByAddress())['acme/spoke'];
    assert.equal(spoke.state, 'running');
    const config = JSON.parse(await readFile(join(agentHome(f.stateDir, 'acme/spoke'), '.openclaw', 'openclaw.json'), 'utf8'));
    const folder = await realpath(knowledge);
    assert.deepEqual(config.memory.search.extraPaths, [folder]);
    // `openclaw memory status` with the agent's own environment reads the same config
    const env = readEnviron(spoke.pid);
    const openclaw = join(defaultRuntimeCacheDir(), `openclaw-${OPENCLAW_VERSION}`, 'node_modules', '.bin', 'openclaw');
    const r = spawnSync(openclaw, ['memory', 'status', '--json'], { env, cwd: env.HOME, encoding: 'utf8', timeout: 180_000 });
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout.slice(r.stdout.indexOf('[')));
    assert.deepEqual(report[0].status.extraPaths, [folder]);
  });
});
