#!/usr/bin/env node
// Start-up benchmark of real OpenClaw gateways (run after the build: `npm run bench`).
// For N = 1, 2, 4: time from `fleetd start` to every gateway healthy, against the same N
// gateways started by hand in parallel; RSS and PSS of each gateway tree and of fleetd;
// kill -9 of one gateway until it is healthy again. Prints a markdown report and writes it
// to bench/results.md. Asserts nothing.
//   node bench/startup.mjs [--n 1,2,4] [--settle-ms 20000] [--out bench/results.md]
// N = 4 needs ~4 GB of RAM and ~40 s of CPU: do not run it next to the e2e suite.
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { defaultRuntimeCacheDir } from '../dist/runtime/cache-dir.js';
import { ensureRuntime } from '../dist/runtime/install.js';
import { OPENCLAW_VERSION } from '../.test-build/test/e2e/real-harness.js';
import { foreignGateways, PROBE_MS, runByHand, runFleetd } from './gateways.mjs';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '1,2,4' },
    'settle-ms': { type: 'string', default: '20000' },
    out: { type: 'string', default: fileURLToPath(new URL('./results.md', import.meta.url)) },
    'idle-wait-ms': { type: 'string', default: '300000' },
  },
});
const sizes = values.n.split(',').map(Number);
const settleMs = Number(values['settle-ms']);
const idleWaitMs = Number(values['idle-wait-ms']);

const s = (ms) => (ms === null || ms === undefined ? '-' : (ms / 1000).toFixed(1));
const mb = (bytes) => Math.round(bytes / 1024 / 1024);
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const range = (xs) => `${mb(mean(xs))} (${mb(Math.min(...xs))}-${mb(Math.max(...xs))})`;
const log = (line) => process.stderr.write(`bench: ${line}\n`);

/** Waits (bounded) until no other OpenClaw gateway runs on the host, so timings are ours alone. */
async function waitIdleHost() {
  const deadline = Date.now() + idleWaitMs;
  let foreign = foreignGateways();
  while (foreign.length > 0 && Date.now() < deadline) {
    log(`waiting: ${foreign.length} other OpenClaw gateway(s) running on this host (pids ${foreign.join(',')})`);
    await sleep(5000);
    foreign = foreignGateways();
  }
  return foreign.length;
}

const runtime = await ensureRuntime({ runtimesDir: defaultRuntimeCacheDir(), version: OPENCLAW_VERSION, onProgress: (e) => log(`runtime: ${e.message}`) });
const started = new Date();
const rows = [];
for (const [index, n] of sizes.entries()) {
  // Alternate the order so neither side always gets the warmer page cache.
  const order = index % 2 === 0 ? ['fleetd', 'hand'] : ['hand', 'fleetd'];
  const row = { n, foreign: 0, load: [] };
  for (const how of order) {
    row.foreign = Math.max(row.foreign, await waitIdleHost());
    row.load.push(loadavg()[0].toFixed(2));
    log(`N=${n}: ${how} ...`);
    row[how] = how === 'fleetd' ? await runFleetd(n, { settleMs }) : await runByHand(n, { settleMs });
    log(`N=${n}: ${how}: all /healthz 200 after ${s(row[how].healthyMs)} s`);
  }
  // Above fleetd's default of 2 boots at a time: the same fleet with every boot at once.
  if (n > 2) {
    row.foreign = Math.max(row.foreign, await waitIdleHost());
    row.load.push(loadavg()[0].toFixed(2));
    log(`N=${n}: fleetd with startConcurrency ${n} ...`);
    row.wide = await runFleetd(n, { settleMs: 0, startConcurrency: n });
    log(`N=${n}: fleetd with startConcurrency ${n}: all /healthz 200 after ${s(row.wide.healthyMs)} s`);
  }
  rows.push(row);
}

const lines = [];
lines.push(`# Start-up benchmark: real OpenClaw gateways under fleetd`);
lines.push('');
lines.push(`- date: ${started.toISOString()}`);
lines.push(`- machine: ${availableParallelism()} CPUs (${cpus()[0]?.model ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${release()}`);
lines.push(`- fleetd on Node ${process.version}; gateways: OpenClaw ${OPENCLAW_VERSION} on Node v${runtime.nodeVersion} (${runtime.node})`);
lines.push(`- fresh state dirs for every run; fleetd with its default startConcurrency 2, restart.initialDelayMs 1000 (+≤10 % jitter), health.intervalMs 2000 (500 ms while starting); the benchmark probes every ${PROBE_MS} ms`);
lines.push(`- "by hand": the same node + openclaw.mjs, env, homes and openclaw.json (built by fleetd's provisioning code), all N spawned at once`);
lines.push(`- memory measured ${s(settleMs)} s after every gateway answered /readyz, summed over each gateway's process tree from /proc/<pid>/smaps_rollup`);
lines.push('');
lines.push('## Cold start (seconds from spawn)');
lines.push('');
lines.push('| N | fleetd: all /healthz 200 | fleetd: all `running` in status | fleetd: all /readyz 200 | by hand in parallel: all /healthz 200 | by hand: all /readyz 200 | fleetd / by hand | fleetd, startConcurrency N: all /healthz 200 |');
lines.push('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) {
  const ratio = r.hand.healthyMs ? (r.fleetd.healthyMs / r.hand.healthyMs).toFixed(2) : '-';
  const wide = r.wide ? s(r.wide.healthyMs) : '(= default)';
  lines.push(`| ${r.n} | ${s(r.fleetd.healthyMs)} | ${s(r.fleetd.runningMs)} | ${s(r.fleetd.readyMs)} | ${s(r.hand.healthyMs)} | ${s(r.hand.readyMs)} | ${ratio} | ${wide} |`);
}
lines.push('');
lines.push('## Memory (MB; mean and min-max over the N gateway trees)');
lines.push('');
lines.push('| N | RSS per gateway tree (fleetd) | PSS per gateway tree (fleetd) | processes per tree | RSS per tree (by hand) | PSS per tree (by hand) | PSS of all N trees (fleetd) | fleetd RSS | fleetd PSS |');
lines.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) {
  const fm = r.fleetd.memory;
  const hm = r.hand.memory;
  lines.push(
    `| ${r.n} | ${range(fm.map((m) => m.rss))} | ${range(fm.map((m) => m.pss))} | ${[...new Set(fm.map((m) => m.processes))].join('/')} | ${range(hm.map((m) => m.rss))} | ${range(hm.map((m) => m.pss))} | ${mb(fm.reduce((a, m) => a + m.pss, 0))} | ${mb(r.fleetd.daemon.rss)} | ${mb(r.fleetd.daemon.pss)} |`,
  );
}
lines.push('');
lines.push('## kill -9 of one gateway (seconds from the kill; includes fleetd\'s 1-1.1 s backoff)');
lines.push('');
lines.push('| N | healthy again (/healthz 200) | `running` again in status |');
lines.push('| --- | --- | --- |');
for (const r of rows) lines.push(`| ${r.n} | ${s(r.fleetd.killToHealthyMs)} | ${s(r.fleetd.killToRunningMs)} |`);
lines.push('');
const foreign = rows.filter((r) => r.foreign > 0);
lines.push(`Host load (1-min average) before each run: ${rows.map((r) => `N=${r.n}: ${r.load.join(', ')}`).join('; ')}.`);
if (foreign.length > 0) lines.push(`Caution: other OpenClaw gateways were running on the host during N=${foreign.map((r) => r.n).join(', ')}; those timings are inflated.`);
lines.push('');
const report = lines.join('\n');
process.stdout.write(report);
writeFileSync(values.out, report);
log(`written to ${values.out}`);
