#!/usr/bin/env node
// Config-only reload (hot reload, issue 11) against a restart, on one REAL OpenClaw gateway
// under the built fleetd. Three kinds of reload, each repeated:
//   hot        a hot key changes (agents.defaults.model.primary): the gateway applies it in place
//   in-process a key that needs a gateway restart (gateway.controlUi.basePath): OpenClaw restarts
//              itself in-process on the same pid (OPENCLAW_NO_RESPAWN=1)
//   restart    an environment variable changes: fleetd stops the gateway and cold-boots a new one
//              (what every config change cost before)
// For each: wall time of `fleetctl reload` (it answers once a reconfigure is applied; a restart
// answers at once), time until the agent is `running` again with /startupz "started", how long
// /healthz did not answer 200 (probed every 50 ms), and the CPU the gateway's process tree
// spent on it (utime + stime from /proc, ticks). Prints a markdown table and writes it to
// bench/reconfigure.md. Asserts nothing. Run alone on the machine:
//   npm run build && npm run build:test && flock /tmp/fleetd-heavy.lock node bench/reconfigure.mjs [--runs 3]
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { defaultRuntimeCacheDir } from '../dist/runtime/cache-dir.js';
import { ensureRuntime } from '../dist/runtime/install.js';
import { probeStartup } from '../dist/supervise/startup-probe.js';
import { cleanup, run, FLEETCTL, startFleetd, status, stopFleetd, tempDir, writeManifest } from '../.test-build/test/e2e/harness.js';
import { OPENCLAW_VERSION, realManifest, gatewayTree, httpRequest, FIRST_START_TIMEOUT_MS } from '../.test-build/test/e2e/real-harness.js';
import { listProcesses } from '../dist/supervise/proc.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    out: { type: 'string', default: fileURLToPath(new URL('./reconfigure.md', import.meta.url)) },
  },
});
const runs = Number(values.runs);
const log = (line) => process.stderr.write(`bench: ${line}\n`);
const s = (ms) => (ms / 1000).toFixed(2);
const ADDRESS = 'bench/hot';

const runtime = await ensureRuntime({ runtimesDir: defaultRuntimeCacheDir(), version: OPENCLAW_VERSION, onProgress: (e) => log(`runtime: ${e.message}`) });
const ctl = (f, ...args) => run(process.execPath, [FLEETCTL, '--socket', f.socket, '--json', ...args], { timeoutMs: 600_000 });
const agentOf = async (f) => (await status(f)).find((a) => a.address === ADDRESS);

/** CPU ticks (utime + stime) of a gateway's whole tree now. */
function treeTicks(pid) {
  let ticks = 0;
  for (const ref of gatewayTree(pid)) {
    try {
      const fields = readFileSync(`/proc/${ref.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone meanwhile
    }
  }
  return ticks;
}

/** Probes /healthz every 50 ms until stopped; returns the ms it did not answer 200. */
function watchDowntime(port) {
  let down = 0;
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      const t = Date.now();
      const ok = await httpRequest(`http://127.0.0.1:${port}/healthz`, { timeoutMs: 1000 }).then((r) => r.status === 200, () => false);
      await sleep(50);
      if (!ok) down += Date.now() - t;
    }
    return down;
  })();
  return async () => {
    stopped = true;
    return done;
  };
}

/** One reload of `manifest` (already edited): the figures of one row. */
async function measure(f, dir, manifest) {
  const before = await agentOf(f);
  const ticks0 = treeTicks(before.pid);
  const stopWatch = watchDowntime(before.port);
  await writeManifest(dir, manifest);
  const t0 = Date.now();
  const r = await ctl(f, 'reload');
  const answered = Date.now() - t0;
  if (r.code !== 0) throw new Error(`reload failed: ${r.stderr}`);
  let agent;
  const timeline = [];
  for (;;) {
    agent = await agentOf(f);
    if (agent?.state === 'failed') throw new Error(`${ADDRESS} failed: ${agent.reason}`);
    const startup = agent?.state === 'running' ? (await probeStartup(agent.port, 1000)).state : '-';
    const step = `${agent?.state} pid ${agent?.pid} startupz ${startup}: ${agent?.reason}`;
    if (timeline.at(-1)?.step !== step) timeline.push({ at: Date.now() - t0, step });
    if (startup === 'started') break;
    if (Date.now() - t0 > FIRST_START_TIMEOUT_MS) throw new Error(`${ADDRESS} did not come back: ${agent?.state} ${agent?.reason}`);
    await sleep(50);
  }
  const back = Date.now() - t0;
  if (back > 30_000) log(`slow (${back} ms), what status showed:\n${timeline.map((t) => `  +${t.at} ms ${t.step}`).join('\n')}`);
  const downMs = await stopWatch();
  await sleep(2000); // let a cold boot's last work show in the CPU figure
  const samePid = agent.pid === before.pid;
  const ticks = samePid ? treeTicks(agent.pid) - ticks0 : treeTicks(agent.pid);
  const outcome = r.json.reconfigured[0];
  return { kind: r.json.actions.map((a) => a.kind).join(','), answered, back, downMs, cpuS: ticks / 100, samePid, how: outcome ? `${outcome.result}: ${outcome.reason}` : 'restart' };
}

const dir = await tempDir();
const manifest = realManifest({ bench: { agents: { hot: { config: { agents: { defaults: { model: { primary: 'anthropic/claude-sonnet-4-6' } } } } } } } });
const config = () => manifest.fleets.bench.agents.hot.config;
const results = { hot: [], inProcess: [], restart: [] };
const load = [];
let f;
try {
  const others = listProcesses().filter((p) => p.comm.startsWith('openclaw-gatewa') && p.state !== 'Z').length;
  if (others > 0) log(`warning: ${others} other OpenClaw gateway(s) run on this host; figures will be slower`);
  f = await startFleetd(dir, manifest, {});
  for (;;) {
    const a = await agentOf(f);
    if (a?.state === 'running') break;
    if (a?.state === 'failed') throw new Error(a.reason);
    await sleep(500);
  }
  await sleep(5000); // past the first seconds of sidecars
  const models = ['openai/gpt-6-astra', 'anthropic/claude-sonnet-4-6'];
  for (let i = 0; i < runs; i++) {
    load.push(loadavg()[0].toFixed(2));
    config().agents.defaults.model.primary = models[i % 2];
    results.hot.push(await measure(f, dir, manifest));
    config().gateway = { controlUi: { basePath: `/openclaw-${i}` } };
    results.inProcess.push(await measure(f, dir, manifest));
    manifest.fleets.bench.agents.hot.env = { BENCH_RUN: String(i) };
    results.restart.push(await measure(f, dir, manifest));
    for (const [name, list] of Object.entries(results)) log(`run ${i + 1}/${runs} ${name}: ${JSON.stringify(list.at(-1))}`);
  }
} finally {
  if (f) await stopFleetd(f);
  await cleanup(dir);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const row = (label, list) =>
  `| ${label} | ${list[0].kind} | ${s(median(list.map((x) => x.answered)))} | ${s(median(list.map((x) => x.back)))} | ${s(median(list.map((x) => x.downMs)))} | ${median(list.map((x) => x.cpuS)).toFixed(1)} | ${list.every((x) => x.samePid) ? 'yes' : list.some((x) => x.samePid) ? 'some' : 'no'} |`;
const lines = [
  '# Config-only reload (reconfigure) against a restart, one real gateway',
  '',
  `- date: ${new Date().toISOString()}; machine: ${availableParallelism()} CPUs (${cpus()[0]?.model ?? 'unknown'}), Linux ${release()}; load average (1 min) at each run: ${load.join(', ')}`,
  `- fleetd on Node ${process.version}; gateway: OpenClaw ${OPENCLAW_VERSION} on Node v${runtime.nodeVersion}; ${runs} runs, medians`,
  '',
  '| reload changes | action | `fleetctl reload` answers, s | running + /startupz started, s | /healthz not 200, s | gateway CPU, s | same pid |',
  '| --- | --- | --- | --- | --- | --- | --- |',
  row('a hot key (agents.defaults.model.primary)', results.hot),
  row('a restart key (gateway.controlUi.basePath)', results.inProcess),
  row('an env variable (restart, cold boot)', results.restart),
  '',
  'Outcomes of the last run:',
  '',
  ...Object.values(results).map((list) => `- ${list.at(-1).how}`),
  '',
];
const report = lines.join('\n');
process.stdout.write(report);
writeFileSync(values.out, report);
