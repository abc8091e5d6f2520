// Building blocks of the start-up benchmark: N real OpenClaw gateways under the built
// fleetd, or the same N started by hand in parallel (same node, same openclaw.mjs, homes
// and openclaw.json made by fleetd's own provisioning code), probed from outside.
import { closeSync, openSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startFleetd, status, stopFleetd, tempDir, cleanup, writeManifest } from '../.test-build/test/e2e/harness.js';
import {
  OPENCLAW_VERSION,
  realManifest,
  gatewayTree,
  trackTrees,
  treeMemory,
  smapsRollup,
  httpRequest,
  livingRefs,
  waitRefsDead,
  FIRST_START_TIMEOUT_MS,
} from '../.test-build/test/e2e/real-harness.js';
import { listProcesses } from '../dist/supervise/proc.js';
import { loadManifest } from '../dist/manifest/load.js';
import { ensureRuntime } from '../dist/runtime/install.js';
import { provisionAgent } from '../dist/provision/provision-agent.js';
import { generateToken } from '../dist/provision/token.js';
import { buildLaunchSpec } from '../dist/daemon/launch.js';

/** How often the benchmark probes /healthz and /readyz itself. */
export const PROBE_MS = 100;

/** A manifest of N real agents (bench/g1 .. bench/gN); fleetd's default startConcurrency unless given. */
export function benchManifest(n, startConcurrency) {
  const agents = Object.fromEntries(Array.from({ length: n }, (_, i) => [`g${i + 1}`, {}]));
  return realManifest({ bench: { agents } }, startConcurrency ? { startConcurrency } : {});
}

/** Status code of GET http://127.0.0.1:port/path, 0 when it does not answer. */
async function probe(port, path) {
  try {
    return (await httpRequest(`http://127.0.0.1:${port}${path}`, { timeoutMs: 1000 })).status;
  } catch {
    return 0;
  }
}

/** Polls every port until `path` answers 200 on each; ms from `t0` to the first 200 of each. */
export async function waitAll200(ports, path, t0, timeoutMs) {
  const at = new Map();
  const deadline = Date.now() + timeoutMs;
  while (at.size < ports.length) {
    if (Date.now() > deadline) throw new Error(`${path}: only ${at.size}/${ports.length} answered 200 within ${timeoutMs} ms`);
    await Promise.all(
      ports.filter((p) => !at.has(p)).map(async (p) => {
        if ((await probe(p, path)) === 200) at.set(p, Date.now() - t0);
      }),
    );
    if (at.size < ports.length) await sleep(PROBE_MS);
  }
  return ports.map((p) => at.get(p));
}

/** openclaw-gateway processes on this host that are not in `ours` (another user of the machine). */
export function foreignGateways(ours = new Set()) {
  return listProcesses().filter((p) => p.comm.startsWith('openclaw-gatewa') && p.state !== 'Z' && !ours.has(p.pid)).map((p) => p.pid);
}

/** Memory of each gateway tree and the sum, after `settleMs`. */
function memoryOf(pids) {
  return pids.map((pid) => treeMemory(pid));
}

/** N gateways under the built fleetd: cold start, memory, kill -9 recovery (startConcurrency: fleetd's default when undefined). */
export async function runFleetd(n, { settleMs, startConcurrency }) {
  const dir = await tempDir();
  const manifest = benchManifest(n, startConcurrency);
  const ports = Array.from({ length: n }, (_, i) => manifest.ports.base + i * 100);
  const seen = new Map();
  let f;
  try {
    const t0 = Date.now();
    f = await startFleetd(dir, manifest);
    const healthy = await waitAll200(ports, '/healthz', t0, FIRST_START_TIMEOUT_MS);
    const running = await waitRunning(f, n, 120_000);
    const runningMs = running.map((a) => a.since - t0);
    const ready = await waitAll200(ports, '/readyz', t0, 120_000).catch(() => null);
    trackTrees(seen, running.map((a) => a.pid));
    await sleep(settleMs);
    const agents = await status(f);
    const memory = memoryOf(agents.map((a) => a.pid));
    trackTrees(seen, agents.map((a) => a.pid));
    const daemon = smapsRollup(f.child.pid);

    // kill -9 of the first gateway, until it answers /healthz again under a new pid
    const victim = agents[0];
    const victimTree = gatewayTree(victim.pid);
    const killedAt = Date.now();
    process.kill(victim.pid, 'SIGKILL');
    await waitRefsDead(victimTree, 10_000);
    const [backMs] = await waitAll200([victim.port], '/healthz', killedAt, 180_000);
    const back = await waitFor(f, (list) => list.find((a) => a.address === victim.address && a.state === 'running' && a.pid !== victim.pid), 60_000);
    trackTrees(seen, [back.pid]);
    return {
      n,
      startConcurrency: manifest.startConcurrency ?? 2,
      healthyMs: Math.max(...healthy),
      runningMs: Math.max(...runningMs),
      readyMs: ready ? Math.max(...ready) : null,
      memory,
      daemon,
      killToHealthyMs: backMs,
      killToRunningMs: back.since - killedAt,
      backoffMs: 1000,
    };
  } finally {
    if (f) await stopFleetd(f);
    await waitRefsDead(seen.values(), 60_000).catch(() => killRefs(seen.values()));
    await cleanup(dir);
  }
}

/** The same N gateways started by hand, all at once: homes and specs from fleetd's own code. */
export async function runByHand(n, { settleMs }) {
  const dir = await tempDir();
  const manifestObj = benchManifest(n);
  const manifest = await loadManifest(await writeManifest(dir, manifestObj));
  const runtime = await ensureRuntime({ runtimesDir: manifest.runtimesDir, version: OPENCLAW_VERSION });
  const specs = [];
  for (let i = 0; i < n; i++) {
    const agent = `g${i + 1}`;
    const desired = { address: `bench/${agent}`, fleet: 'bench', agent, source: 'manifest', enabled: true, config: {}, env: {}, launch: { kind: 'openclaw', version: OPENCLAW_VERSION } };
    const entry = { port: manifest.ports.base + i * 100, token: generateToken() };
    const provisioned = await provisionAgent({ stateDir: manifest.stateDir, desired, entry, blockSize: manifest.ports.blockSize });
    specs.push(buildLaunchSpec(manifest, desired, entry, provisioned, runtime));
  }
  const seen = new Map();
  const children = [];
  try {
    const t0 = Date.now();
    for (const spec of specs) {
      const log = openSync(spec.logFile, 'a', 0o600);
      const [cmd, ...args] = spec.argv;
      const child = spawn(cmd, args, { cwd: spec.cwd, env: spec.env, detached: true, stdio: ['ignore', log, log] });
      closeSync(log);
      children.push(child);
    }
    const ports = specs.map((s) => s.port);
    const healthy = await waitAll200(ports, '/healthz', t0, 180_000);
    trackTrees(seen, children.map((c) => c.pid));
    const ready = await waitAll200(ports, '/readyz', t0, 120_000).catch(() => null);
    await sleep(settleMs);
    trackTrees(seen, children.map((c) => c.pid));
    const memory = memoryOf(children.map((c) => c.pid));
    return { n, healthyMs: Math.max(...healthy), readyMs: ready ? Math.max(...ready) : null, memory };
  } finally {
    trackTrees(seen, children.map((c) => c.pid));
    const exited = children.map((c) => new Promise((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve() : c.once('exit', resolve))));
    for (const c of children) {
      try {
        process.kill(c.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    await Promise.all(exited);
    await waitRefsDead(seen.values(), 30_000).catch(() => killRefs(seen.values()));
    await cleanup(dir);
  }
}

/** Polls fleetd's status until `pick(agents)` returns something. */
async function waitFor(f, pick, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = pick(await status(f));
    if (found) return found;
    if (Date.now() > deadline) throw new Error('timed out waiting for fleetd status');
    await sleep(500);
  }
}

/** Waits until n agents are running; returns them. */
function waitRunning(f, n, timeoutMs) {
  return waitFor(f, (list) => (list.filter((a) => a.state === 'running').length >= n ? list : undefined), timeoutMs);
}

/** SIGKILLs what is left of our own trees (by pid + start time). */
function killRefs(refs) {
  for (const ref of livingRefs(refs)) {
    try {
      process.kill(ref.pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}
