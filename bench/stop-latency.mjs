#!/usr/bin/env node
// Stop latency of an idle agent while other agents are busy (issue "Each agent acts on its
// own"): real OpenClaw gateways under the built fleetd. Three scenarios, each repeated:
//   idle     `fleetctl stop agent ops/watch` with nothing else going on (the floor)
//   boot     the same stop while `restart agent acme/korax` boots a real gateway
//   rolling  the same stop while `restart fleet acme` (two real gateways) is under way
// Before the fix the busy cases waited for the other agent (measured ~20 s).
// Prints a markdown table (median, min, max of the stop's wall time) and writes it to
// bench/stop-latency.md. Asserts nothing. Run alone on the machine:
//   npm run build && npm run build:test && node bench/stop-latency.mjs [--runs 3]
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { defaultRuntimeCacheDir } from '../dist/runtime/cache-dir.js';
import { ensureRuntime } from '../dist/runtime/install.js';
import { cleanup, run, FLEETCTL, startFleetd, status, stopFleetd, tempDir } from '../.test-build/test/e2e/harness.js';
import { OPENCLAW_VERSION, realManifest, FIRST_START_TIMEOUT_MS } from '../.test-build/test/e2e/real-harness.js';
import { foreignGateways } from './gateways.mjs';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    out: { type: 'string', default: fileURLToPath(new URL('./stop-latency.md', import.meta.url)) },
  },
});
const runs = Number(values.runs);
const log = (line) => process.stderr.write(`bench: ${line}\n`);
const s = (ms) => (ms / 1000).toFixed(2);

const runtime = await ensureRuntime({ runtimesDir: defaultRuntimeCacheDir(), version: OPENCLAW_VERSION, onProgress: (e) => log(`runtime: ${e.message}`) });
const ctl = (f, ...args) => run(process.execPath, [FLEETCTL, '--socket', f.socket, '--json', ...args], { timeoutMs: 600_000 });

/** Waits until `address` has state `state` (bounded). */
async function waitState(f, address, state, timeoutMs = FIRST_START_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const agent = (await status(f)).find((a) => a.address === address);
    if (agent?.state === state) return agent;
    if (Date.now() > deadline) throw new Error(`${address} did not reach ${state}: ${agent?.state} ${agent?.reason}`);
    await sleep(200);
  }
}

/** Wall time of `fleetctl stop agent ops/watch` (then starts it again for the next run). */
async function timedStop(f) {
  const t0 = Date.now();
  const r = await ctl(f, 'stop', 'agent', 'ops/watch');
  const ms = Date.now() - t0;
  if (r.code !== 0) throw new Error(`stop failed: ${r.stderr}`);
  return ms;
}

const dir = await tempDir();
const manifest = realManifest({ acme: { agents: { korax: {}, vesna: {} } }, ops: { agents: { watch: {} } } }, { startConcurrency: 2 });
const results = { idle: [], boot: [], rolling: [] };
const load = [];
let f;
try {
  if (foreignGateways().length > 0) log(`warning: ${foreignGateways().length} other OpenClaw gateway(s) run on this host; figures will be slower`);
  f = await startFleetd(dir, manifest, {});
  for (const a of ['acme/korax', 'acme/vesna', 'ops/watch']) await waitState(f, a, 'running');
  for (let i = 0; i < runs; i++) {
    load.push(loadavg()[0].toFixed(2));
    results.idle.push(await timedStop(f));
    await ctl(f, 'start', 'agent', 'ops/watch');

    const restart = ctl(f, 'restart', 'agent', 'acme/korax');
    await waitState(f, 'acme/korax', 'starting');
    results.boot.push(await timedStop(f));
    const stillBooting = (await status(f)).find((a) => a.address === 'acme/korax').state === 'starting';
    if (!stillBooting) log('note: acme/korax finished booting before the stop answered');
    await restart;
    await ctl(f, 'start', 'agent', 'ops/watch');

    const rolling = ctl(f, 'restart', 'fleet', 'acme');
    await waitState(f, 'acme/korax', 'starting');
    results.rolling.push(await timedStop(f));
    await rolling;
    await ctl(f, 'start', 'agent', 'ops/watch');
    log(`run ${i + 1}/${runs}: idle ${s(results.idle.at(-1))} s, boot ${s(results.boot.at(-1))} s, rolling ${s(results.rolling.at(-1))} s`);
  }
} finally {
  if (f) await stopFleetd(f);
  await cleanup(dir);
}

const stats = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return `${s(sorted[Math.floor(sorted.length / 2)])} | ${s(sorted[0])} | ${s(sorted.at(-1))}`;
};
const lines = [
  '# Stop latency of an idle agent while others are busy',
  '',
  `- date: ${new Date().toISOString()}; machine: ${availableParallelism()} CPUs (${cpus()[0]?.model ?? 'unknown'}), Linux ${release()}; load average (1 min) at each run: ${load.join(', ')}`,
  `- fleetd on Node ${process.version}; real gateways: OpenClaw ${OPENCLAW_VERSION} on Node v${runtime.nodeVersion}; ${runs} runs; the stopped agent (ops/watch) is a running real gateway, stopped with SIGTERM`,
  '',
  '| scenario | median s | min s | max s |',
  '| --- | --- | --- | --- |',
  `| nothing else going on | ${stats(results.idle)} |`,
  `| while \`restart agent acme/korax\` boots | ${stats(results.boot)} |`,
  `| while \`restart fleet acme\` runs | ${stats(results.rolling)} |`,
  '',
];
const report = lines.join('\n');
process.stdout.write(report);
writeFileSync(values.out, report);
