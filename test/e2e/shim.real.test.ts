// The per-agent shim with a REAL OpenClaw gateway (one, from the shared runtime cache): the
// process that launched the shim is SIGKILLed, the gateway keeps answering /healthz, its
// output keeps reaching gateway.log (token redacted), a new client attaches to the same
// gateway pid, and a SIGTERM ends it with code 0 reported over the socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadManifest } from '../../src/manifest/load.js';
import { provisionAgent } from '../../src/provision/provision-agent.js';
import { generateToken } from '../../src/provision/token.js';
import { ensureRuntime } from '../../src/runtime/install.js';
import { buildLaunchSpec } from '../../src/daemon/launch.js';
import { isAlive, isSameProcess, type ProcRef } from '../../src/supervise/proc.js';
import { attachShim } from '../../src/supervise/shim-client.js';
import type { ShimSpecInput } from '../../src/shim/protocol.js';
import type { DesiredAgent } from '../../src/plan/types.js';
import { waitFor } from '../../src/util/wait-for.js';
import { launchFromAnotherProcess } from '../support/shim.js';
import { cleanup, tempDir, writeManifest } from './harness.js';
import { FIRST_START_TIMEOUT_MS, httpRequest, livingRefs, OPENCLAW_VERSION, realManifest, trackTrees, waitRefsDead } from './real-harness.js';

test('a real gateway under its shim outlives the process that launched it and is re-attached by pid', { timeout: FIRST_START_TIMEOUT_MS + 120_000 }, async () => {
  const dir = await tempDir();
  const seen = new Map<string, ProcRef>();
  const extra: number[] = [];
  try {
    const manifest = await loadManifest(await writeManifest(dir, realManifest({ acme: { agents: { one: {} } } })));
    const runtime = await ensureRuntime({ runtimesDir: manifest.runtimesDir, version: OPENCLAW_VERSION });
    const desired: DesiredAgent = { address: 'acme/one', fleet: 'acme', agent: 'one', source: 'manifest', enabled: true, config: {}, env: {}, launch: { kind: 'openclaw', version: OPENCLAW_VERSION } };
    const entry = { port: manifest.ports.base, token: generateToken() };
    const provisioned = await provisionAgent({ stateDir: manifest.stateDir, desired, entry, blockSize: manifest.ports.blockSize });
    const launch = buildLaunchSpec(manifest, desired, entry, provisioned, runtime);
    const runDir = join(manifest.stateDir, 'agents', 'acme', 'one');
    const spec: ShimSpecInput = {
      protocol: 1,
      name: launch.address,
      argv: launch.argv,
      cwd: launch.cwd,
      env: launch.env,
      runDir,
      log: { file: join(runDir, 'gateway.log'), maxBytes: manifest.logs.maxBytes, maxFiles: manifest.logs.maxFiles },
      secrets: [entry.token],
      specHash: provisioned.hash,
    };

    const launcher = await launchFromAnotherProcess(spec);
    const { record } = launcher;
    extra.push(launcher.child.pid!, record.shimPid);
    const gateway = { pid: record.gatewayPid!, startTime: record.gatewayStartTime! };
    const healthz = () => httpRequest(`http://127.0.0.1:${entry.port}/healthz`, { timeoutMs: 2000 }).then((r) => r.status === 200, () => false);
    await waitFor(healthz, { timeoutMs: 180_000, intervalMs: 250, what: 'the real gateway to answer /healthz' });
    trackTrees(seen, [gateway.pid]);

    launcher.child.kill('SIGKILL');
    await waitFor(() => !isAlive(launcher.child.pid!), { timeoutMs: 5000, what: 'the launcher to die' });
    // Several probe intervals without the launcher: every probe answers.
    for (let i = 0; i < 20; i++) {
      assert.ok(await healthz(), `probe ${i} after the launcher's SIGKILL`);
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(isSameProcess(gateway), 'the same gateway process');

    const attached = await attachShim(runDir, { takeover: true, expect: { gatewayPid: gateway.pid, gatewayStartTime: gateway.startTime, specHash: provisioned.hash } });
    assert.ok(attached.ok, !attached.ok ? attached.message : '');
    const handle = attached.handle;
    assert.equal(handle.gateway?.pid, gateway.pid);
    const stats = await handle.status();
    assert.ok(stats.readBytes.stdout + stats.readBytes.stderr > 0, 'OpenClaw wrote output and the shim read it');
    assert.equal(stats.log.droppedBytes, 0);
    trackTrees(seen, [gateway.pid]);

    process.kill(gateway.pid, 'SIGTERM');
    const outcome = await handle.exited;
    assert.equal(outcome.kind, 'exited');
    assert.ok(outcome.kind === 'exited' && outcome.code === 0 && outcome.signal === null && outcome.from === 'socket', JSON.stringify(outcome));
    await waitRefsDead(seen.values(), 30_000);
    await handle.close();
    assert.ok(!isAlive(record.shimPid), 'the shim left after its gateway');
    const logs = (await readdir(runDir)).filter((n) => n.startsWith('gateway.log'));
    let text = '';
    for (const n of logs) text += await readFile(join(runDir, n), 'utf8');
    assert.match(text, /spawned pid \d+ \(shim pid \d+\)/);
    assert.match(text, /exited with code 0 after/);
    assert.ok(!text.includes(entry.token.slice(0, 16)), 'the token never reaches the log');
  } finally {
    for (const ref of livingRefs(seen.values())) process.kill(ref.pid, 'SIGKILL');
    for (const pid of extra) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    await cleanup(dir);
  }
});
