#!/usr/bin/env node
// Density benchmark: how much memory N REAL OpenClaw gateways take, plain and with the
// isolation layer's two savings: a V8 heap sized under a cgroup memory limit, and kernel
// same-page merging (KSM) through the prctl wrapper. Asserts nothing; prints a report.
//
//   flock /tmp/fleetd-heavy.lock node bench/density.mjs [--n 4] [--limit 1G] [--configs plain,heap,ksm,both]
//        [--settle-min-ms 45000] [--settle-max-ms 240000] [--ksm-pages-to-scan N] [--out FILE]
//
// Needs root (cgroup v1 or v2 with the memory controller for the limit, /sys/kernel/mm/ksm)
// and the runtime cache (installed on first use). Each configuration runs alone, on fresh
// state dirs, with every gateway in its own cgroup (so its PSS is the sum over the cgroup's
// members: the whole tree, whatever it forked). After all N answer /healthz it samples
// every 10 s until the total PSS moved less than 1 % over the last 3 samples (at least
// --settle-min-ms, at most --settle-max-ms), then reads: PSS per gateway tree, the
// cgroup's memory usage, boot time, and for KSM configurations ksmd's CPU time over the
// window (/proc/<ksmd>/stat) and the pages it shares. ksmd runs (run = 1) only during the
// KSM configurations (and --ksm-pages-to-scan changes its scan rate); both settings are
// restored at the end.
import { closeSync, openSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { tmpdir, loadavg, cpus, totalmem, release } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { ensureRuntime } from '../dist/runtime/install.js';
import { defaultRuntimeCacheDir } from '../dist/runtime/cache-dir.js';
import { provisionAgent } from '../dist/provision/provision-agent.js';
import { generateToken } from '../dist/provision/token.js';
import { buildLaunchSpec } from '../dist/daemon/launch.js';
import { setupIsolationHost, prepareAgentIsolation, isolateLaunch } from '../dist/isolation/agent-isolation.js';
import { listAgentCgroups } from '../dist/isolation/cgroup-agent.js';
import { removeCgroupTree } from '../dist/isolation/cgroup-files.js';
import { stopCgroup } from '../dist/isolation/cgroup-stop.js';
import { ksmdCpuTicks, readKsmStat, setKsmRun } from '../dist/isolation/ksm.js';
import { resolveLimits, formatSize } from '../dist/isolation/limits.js';
import { heapMiBFor } from '../dist/isolation/heap-size.js';

const VERSION = '2026.9.6';
const CLK_TCK = 100;
const MiB = 1024 * 1024;

const { values: opts } = parseArgs({
  options: {
    n: { type: 'string', default: '4' },
    limit: { type: 'string', default: '1G' },
    configs: { type: 'string', default: 'plain,heap,ksm,both' },
    'settle-min-ms': { type: 'string', default: '45000' },
    'settle-max-ms': { type: 'string', default: '240000' },
    'ksm-pages-to-scan': { type: 'string' },
    out: { type: 'string' },
  },
});
const N = Number(opts.n);
const CONFIGS = {
  plain: { limit: false, merge: false, label: 'plain' },
  heap: { limit: true, merge: false, label: `heap sized (limits.memory ${opts.limit})` },
  ksm: { limit: false, merge: true, label: 'KSM (memory.merge)' },
  both: { limit: true, merge: true, label: `heap sized + KSM` },
};

/** PSS and RSS of one process, bytes (smaps_rollup). */
function rollup(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
    return { pss: kb('Pss'), rss: kb('Rss') };
  } catch {
    return { pss: 0, rss: 0 };
  }
}

/** PSS/RSS of every member of a cgroup = one gateway tree. */
function cgroupMemory(cgroup) {
  let pss = 0;
  let rss = 0;
  const pids = cgroup.pids();
  for (const pid of pids) {
    const m = rollup(pid);
    pss += m.pss;
    rss += m.rss;
  }
  return { pss, rss, processes: pids.length, usage: cgroup.usage().memory.current };
}

function ksmCounters() {
  const read = (f) => Number(readFileSync(`/sys/kernel/mm/ksm/${f}`, 'utf8'));
  return { pagesShared: read('pages_shared'), pagesSharing: read('pages_sharing'), fullScans: read('full_scans'), profit: read('general_profit'), pagesToScan: read('pages_to_scan'), sleepMs: read('sleep_millisecs') };
}

function probe(port) {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', timeout: 1000, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** True when nothing listens on 127.0.0.1:port (other test runs on this host use the same range). */
function portFree(port) {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A port base (blocks of 100 below the ephemeral range) whose N gateway ports are all free. */
async function freeBase() {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 22_000 + Math.floor(Math.random() * 90) * 100;
    const free = await Promise.all(Array.from({ length: N }, (_, i) => portFree(base + i * 100)));
    if (free.every(Boolean)) return base;
  }
  throw new Error('no free port base found');
}

async function runConfig(name, runtime) {
  const cfg = CONFIGS[name];
  const dir = await mkdtemp(join(tmpdir(), 'fleetd-density-'));
  const root = `fleetd-bench-${randomBytes(3).toString('hex')}`;
  const host = setupIsolationHost({ mode: 'auto', root }, cfg.merge);
  if (host.cgroups.kind === 'none') throw new Error(host.view.description);
  const base = await freeBase();
  const agents = [];
  try {
    const manifest = {
      logs: { maxBytes: 10 * MiB, maxFiles: 2 },
      gateway: { stopTimeoutMs: 30_000 },
      health: { intervalMs: 10_000, timeoutMs: 2000, failureThreshold: 3, startupTimeoutMs: 300_000 },
      restart: { initialDelayMs: 1000, factor: 2, maxDelayMs: 300_000, resetAfterMs: 600_000, noRestartExitCodes: [78] },
    };
    for (let i = 0; i < N; i++) {
      const agent = `g${i + 1}`;
      const desired = { address: `bench/${agent}`, fleet: 'bench', agent, source: 'manifest', enabled: true, config: { browser: { enabled: false } }, env: {}, launch: { kind: 'openclaw', version: VERSION } };
      const entry = { port: base + i * 100, token: generateToken() };
      const provisioned = await provisionAgent({ stateDir: join(dir, 'state'), desired, entry, blockSize: 100 });
      const spec = buildLaunchSpec(manifest, desired, entry, provisioned, runtime);
      const limits = cfg.limit ? resolveLimits([{ memory: opts.limit }]) : {};
      const iso = prepareAgentIsolation(host, { limits, merge: cfg.merge }, 'bench', agent);
      for (const note of iso.notes) process.stderr.write(`# ${agent}: ${note}\n`);
      agents.push({ agent, spec, iso, launch: isolateLaunch({ argv: spec.argv, env: spec.env }, iso) });
    }
    const ticks0 = cfg.merge ? ksmdCpuTicks() : undefined;
    const t0 = Date.now();
    for (const a of agents) {
      const log = openSync(join(dir, `${a.agent}.log`), 'a', 0o600);
      const [file, ...args] = a.launch.argv;
      a.child = spawn(file, args, { cwd: a.spec.cwd, env: a.launch.env, detached: true, stdio: ['ignore', log, log] });
      closeSync(log);
      a.child.on('exit', (code, signal) => (a.exit = { code, signal }));
    }
    const healthyAt = new Map();
    while (healthyAt.size < N) {
      if (Date.now() - t0 > 300_000) throw new Error(`only ${healthyAt.size}/${N} healthy after 300 s`);
      for (const a of agents) {
        if (a.exit) throw new Error(`${a.agent} exited ${JSON.stringify(a.exit)}: ${readFileSync(join(dir, `${a.agent}.log`), 'utf8').slice(-1500)}`);
        if (!healthyAt.has(a.agent) && (await probe(a.spec.port))) healthyAt.set(a.agent, Date.now() - t0);
      }
      await sleep(200);
    }
    const healthyMs = Math.max(...healthyAt.values());
    // settle: PSS total stable within 1 % over the last 3 samples, bounded
    const samples = [];
    const ksmSamples = [];
    const settleStart = Date.now();
    for (;;) {
      await sleep(10_000);
      samples.push(agents.reduce((sum, a) => sum + cgroupMemory(a.iso.cgroup).pss, 0));
      if (cfg.merge) ksmSamples.push({ sharing: ksmCounters().pagesSharing, ticks: ksmdCpuTicks() ?? 0, at: Date.now() });
      const waited = Date.now() - settleStart;
      const last = samples.slice(-3);
      const stable = last.length === 3 && (Math.max(...last) - Math.min(...last)) / Math.max(...last) < 0.01;
      if ((stable && waited >= Number(opts['settle-min-ms'])) || waited >= Number(opts['settle-max-ms'])) break;
    }
    const windowS = (Date.now() - t0) / 1000;
    const memory = agents.map((a) => cgroupMemory(a.iso.cgroup));
    const ksmd = cfg.merge && ticks0 !== undefined ? ((ksmdCpuTicks() ?? ticks0) - ticks0) / CLK_TCK : null;
    const merged = cfg.merge ? agents.map((a) => readKsmStat(a.child.pid)) : null;
    return {
      name,
      label: cfg.label,
      n: N,
      heapMiB: cfg.limit ? heapMiBFor(resolveLimits([{ memory: opts.limit }]).memoryBytes) : null,
      healthyMs,
      settleS: (Date.now() - settleStart) / 1000,
      windowS,
      pssAvg: memory.reduce((s, m) => s + m.pss, 0) / N,
      rssAvg: memory.reduce((s, m) => s + m.rss, 0) / N,
      usageAvg: memory.reduce((s, m) => s + (m.usage ?? 0), 0) / N,
      processes: memory.map((m) => m.processes),
      ksmdCpuS: ksmd,
      ksm: cfg.merge ? ksmCounters() : null,
      mergeAny: merged ? merged.every((m) => m?.mergeAny) : null,
      samples: samples.map((s) => Math.round(s / N / MiB)),
      ksmSharingSamples: cfg.merge ? ksmSamples.map((k) => k.sharing) : null,
      // ksmd keeps scanning at the same rate once merged: its cost over the last 3 samples
      ksmdSteadyShare: cfg.merge && ksmSamples.length >= 4 ? steadyShare(ksmSamples.slice(-4)) : null,
    };
  } finally {
    await Promise.all(agents.filter((a) => a.iso.cgroup).map((a) => stopCgroup(a.iso.cgroup, { timeoutMs: 30_000 })));
    for (const found of listAgentCgroups(host.cgroups)) found.cgroup.remove();
    const roots = host.cgroups.kind === 'v2' ? [host.cgroups.rootDir] : host.cgroups.hierarchies.map((h) => h.rootDir);
    for (const r of roots) removeCgroupTree(r);
    await rm(dir, { recursive: true, force: true });
  }
}

/** Share of one core ksmd used between the first and last of `samples`. */
function steadyShare(samples) {
  const first = samples[0];
  const last = samples[samples.length - 1];
  return (last.ticks - first.ticks) / CLK_TCK / ((last.at - first.at) / 1000);
}

const mb = (b) => `${Math.round(b / MiB)} MB`;

async function main() {
  const runtime = await ensureRuntime({ runtimesDir: defaultRuntimeCacheDir(), version: VERSION });
  const ksmRunBefore = readFileSync('/sys/kernel/mm/ksm/run', 'utf8').trim();
  const pagesToScanBefore = readFileSync('/sys/kernel/mm/ksm/pages_to_scan', 'utf8').trim();
  if (opts['ksm-pages-to-scan']) writeFileSync('/sys/kernel/mm/ksm/pages_to_scan', opts['ksm-pages-to-scan']);
  const results = [];
  const load = loadavg()[0].toFixed(2);
  try {
    for (const name of opts.configs.split(',')) {
      if (!CONFIGS[name]) throw new Error(`unknown config ${name}: ${Object.keys(CONFIGS).join(', ')}`);
      setKsmRun(CONFIGS[name].merge ? 1 : 0);
      process.stderr.write(`# ${name}: ${N} gateways...\n`);
      const r = await runConfig(name, runtime);
      process.stderr.write(`# ${name}: ${JSON.stringify(r)}\n`);
      results.push(r);
    }
  } finally {
    writeFileSync('/sys/kernel/mm/ksm/run', ksmRunBefore);
    writeFileSync('/sys/kernel/mm/ksm/pages_to_scan', pagesToScanBefore);
  }
  const plain = results.find((r) => r.name === 'plain');
  const rows = results.map((r) => {
    const delta = plain && r !== plain ? ` (${Math.round(((r.pssAvg - plain.pssAvg) / plain.pssAvg) * 100)} %)` : '';
    const steady = r.ksmdSteadyShare !== null && r.ksmdSteadyShare !== undefined ? `, ${(r.ksmdSteadyShare * 100).toFixed(1)} % once settled` : '';
    const ksm = r.ksm ? `${r.ksmdCpuS?.toFixed(1)} s over ${Math.round(r.windowS)} s (${((r.ksmdCpuS / r.windowS) * 100).toFixed(1)} % of a core${steady}); ${mb(r.ksm.pagesSharing * 4096)} deduplicated` : '-';
    return `| ${r.label}${r.heapMiB ? ` (heap ${r.heapMiB} MiB)` : ''} | ${mb(r.pssAvg)}${delta} | ${mb(r.rssAvg)} | ${mb(r.usageAvg)} | ${(r.healthyMs / 1000).toFixed(1)} s | ${Math.round(r.settleS)} s | ${ksm} |`;
  });
  const report = [
    `Measured ${new Date().toISOString().slice(0, 10)}: ${N} real OpenClaw ${VERSION} gateways per configuration, each configuration alone, fresh state dirs;`,
    `${cpus().length} CPUs, ${Math.round(totalmem() / 1024 ** 3)} GiB RAM, kernel ${release()}, load ${load} at start; KSM pages_to_scan ${results.find((r) => r.ksm)?.ksm.pagesToScan ?? '?'}, sleep_millisecs ${results.find((r) => r.ksm)?.ksm.sleepMs ?? '?'}).`,
    '',
    '| configuration | PSS per gateway tree | RSS per tree | cgroup memory usage | boot to all /healthz | settled after | ksmd CPU, merged |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
  process.stdout.write(`${report}\n`);
  if (opts.out) writeFileSync(opts.out, `${report}\n\n<details><summary>raw</summary>\n\n\`\`\`json\n${JSON.stringify(results, null, 2)}\n\`\`\`\n</details>\n`);
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exitCode = 1;
});
