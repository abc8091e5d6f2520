#!/usr/bin/env node
// Cost of the per-agent shim (src/shim/), the process that holds a gateway's output so the
// gateway survives fleetd's restarts. Run after the build: `npm run build && node bench/shim.mjs`.
// For the native shim (`native`: dist/shim/fleetd-shim) and each set of Node flags of the
// Node shim (--variants), and N shims at once (--n, default 1,4,8), each holding a quiet
// "gateway" (a shell loop printing one line a second), it measures:
//   - boot: the shim run by hand 50 times in a row under one /usr/bin/time (its CPU counts
//     in 10 ms steps: one run alone of the native shim reads 0), once with nothing on stdin
//     (it refuses and exits) and once launching a gateway that exits at once (/bin/true: the
//     whole life of a shim): CPU (user + system) per run, and the peak RSS of the runs;
//   - start-up: launchShim() until the handle is attached (ms, mean over N), and the CPU
//     the shim used to get there (utime+stime from /proc/<pid>/stat);
//   - memory after --settle-ms: RSS, PSS and USS (private clean + dirty) per shim, from
//     /proc/<pid>/smaps_rollup (PSS splits pages shared by the N shims, e.g. the node binary);
//   - idle CPU over --cpu-ms after that (the first seconds go to V8 shrinking its heap);
//   - a flood: one gateway writing --flood-mib MiB as fast as it can through the shim with
//     nobody attached: throughput, shim CPU per MiB, the shim's peak RSS.
// Prints a markdown report and appends it, dated, to bench/shim-results.md (--out; older
// figures are kept). Asserts nothing.
// Light (no OpenClaw): still, do not run it during a heavy test run on a shared machine.
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { launchShim, NATIVE_SHIM_PATH, SHIM_NODE_FLAGS } from '../dist/supervise/shim-client.js';

/** The native shim: not a set of Node flags. */
const NATIVE = 'native';
/** The boot table's yardstick: the shell loop running /bin/true. */
const BASELINE = 'for comparison: /bin/true';
const VARIANTS = {
  [NATIVE]: [],
  none: [],
  'semi-space 1': ['--max-semi-space-size=1'],
  'old-space 32': ['--max-old-space-size=32'],
  'v8-pool 1': ['--v8-pool-size=1'],
  jitless: ['--jitless'],
  'lite-mode': ['--lite-mode'],
  'semi 1 + lite-mode': ['--max-semi-space-size=1', '--lite-mode'],
  'shipped (SHIM_NODE_FLAGS)': [...SHIM_NODE_FLAGS],
};

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '1,4,8' },
    variants: { type: 'string', default: `${NATIVE},shipped (SHIM_NODE_FLAGS)` },
    'settle-ms': { type: 'string', default: '10000' },
    'cpu-ms': { type: 'string', default: '20000' },
    'flood-mib': { type: 'string', default: '256' },
    out: { type: 'string', default: fileURLToPath(new URL('./shim-results.md', import.meta.url)) },
  },
});
const sizes = values.n.split(',').map(Number);
const variants = values.variants.split(',').map((v) => v.trim());
const settleMs = Number(values['settle-ms']);
const cpuWindowMs = Number(values['cpu-ms']);
const floodMiB = Number(values['flood-mib']);
const FLOOD = fileURLToPath(new URL('../test/fixtures/flood.mjs', import.meta.url));
const TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
const log = (line) => process.stderr.write(`bench: ${line}\n`);
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const mb = (bytes) => (bytes / 1024 / 1024).toFixed(1);

/** kB fields of /proc/<pid>/smaps_rollup, as bytes. */
function rollup(pid) {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
  return { rss: field('Rss'), pss: field('Pss'), uss: field('Private_Clean') + field('Private_Dirty') };
}

/** CPU time of `pid` so far, ms (user + system). */
function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(rest[11]) + Number(rest[12])) * 1000) / TICKS;
}

/** Client deps that launch the shim of `variant`. */
const depsOf = (variant) => (variant === NATIVE ? { native: NATIVE_SHIM_PATH } : { native: null, nodeFlags: VARIANTS[variant] });

/** The command that runs the shim of `variant` by hand. */
const commandOf = (variant) => (variant === BASELINE ? ['/bin/true'] : variant === NATIVE ? [NATIVE_SHIM_PATH] : [process.execPath, ...VARIANTS[variant], fileURLToPath(new URL('../dist/shim/main.js', import.meta.url))]);

/** Boot cost of the shim of `variant`: `runs` runs in a row under one /usr/bin/time (CPU per run, peak RSS of the runs), with nothing on stdin and for a whole life with /bin/true as gateway. */
function measureBoot(variant, runs = 50) {
  const dir = mkdtempSync(join(tmpdir(), 'fleetd-bench-shim-'));
  // One run dir for all: each run clears what the run before it left (no live shim holds it).
  const batch = (input) => {
    const file = join(dir, 'stdin');
    writeFileSync(file, input);
    const loop = 'i=0; while [ $i -lt $N ]; do "$@" < "$F" > /dev/null; i=$((i+1)); done';
    const r = spawnSync('/usr/bin/time', ['-f', '%U %S %M', '/bin/sh', '-c', loop, 'sh', ...commandOf(variant)], { env: { F: file, N: String(runs) }, encoding: 'utf8' });
    const [user, system, maxKb] = r.stderr.trim().split('\n').pop().split(' ').map(Number);
    return { cpuMs: ((user + system) * 1000) / runs, rss: maxKb * 1024 };
  };
  try {
    const empty = batch('');
    const spec = specFor(dir, 0, ['/bin/true']);
    mkdirSync(spec.runDir, { mode: 0o700 });
    const life = batch(JSON.stringify(spec));
    return { emptyCpuMs: empty.cpuMs, emptyRss: empty.rss, lifeCpuMs: life.cpuMs, lifeRss: life.rss };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A spec whose gateway is `argv`, in a fresh run dir below `dir`. */
function specFor(dir, i, argv) {
  const runDir = join(dir, `agent-${i}`);
  return {
    protocol: 1,
    name: `bench/agent-${i}`,
    argv,
    cwd: dir,
    env: { PATH: '/usr/bin:/bin' },
    runDir,
    log: { file: join(runDir, 'gateway.log'), maxBytes: 10 * 1024 * 1024, maxFiles: 2 },
    secrets: ['0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'],
    specHash: 'bench',
  };
}

/** Ends the gateway of each handle and closes it. */
async function finish(handles) {
  for (const h of handles) if (h.gateway) process.kill(h.gateway.pid, 'SIGKILL');
  for (const h of handles) {
    await h.exited;
    await h.close();
  }
}

/** N quiet shims with `flags`: start-up, memory, idle CPU. */
async function measureIdle(variant, n) {
  const dir = mkdtempSync(join(tmpdir(), 'fleetd-bench-shim-'));
  const handles = [];
  const startMs = [];
  const startCpu = [];
  try {
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const h = await launchShim(specFor(dir, i, ['/bin/sh', '-c', 'while :; do echo tick; sleep 1; done']), depsOf(variant));
      startMs.push(performance.now() - t0);
      startCpu.push(cpuMs(h.shim.pid));
      handles.push(h);
    }
    await sleep(settleMs);
    const mem = handles.map((h) => rollup(h.shim.pid));
    // After the settle time: V8 spends its first seconds shrinking the heap it grew at start-up.
    const cpu0 = handles.map((h) => cpuMs(h.shim.pid));
    await sleep(cpuWindowMs);
    const idleCpu = handles.map((h, i) => cpuMs(h.shim.pid) - cpu0[i]);
    return {
      startMs: mean(startMs),
      startCpuMs: mean(startCpu),
      rss: mean(mem.map((m) => m.rss)),
      pss: mean(mem.map((m) => m.pss)),
      uss: mean(mem.map((m) => m.uss)),
      idleCpuMsPerMin: (mean(idleCpu) * 60_000) / cpuWindowMs,
    };
  } finally {
    await finish(handles);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One shim, nobody attached, a gateway writing floodMiB MiB: throughput, CPU per MiB, peak RSS. */
async function measureFlood(variant) {
  const dir = mkdtempSync(join(tmpdir(), 'fleetd-bench-shim-'));
  const progress = join(dir, 'progress.json');
  const go = join(dir, 'go');
  const handles = [];
  try {
    const h = await launchShim(specFor(dir, 0, [process.execPath, FLOOD, String(floodMiB * 1024 * 1024), progress, '--wait', go]), depsOf(variant));
    handles.push(h);
    await h.detach();
    const cpu0 = cpuMs(h.shim.pid);
    let peak = rollup(h.shim.pid).rss;
    const t0 = performance.now();
    writeFileSync(go, '');
    while (!existsSync(progress)) {
      peak = Math.max(peak, rollup(h.shim.pid).rss);
      await sleep(20);
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu = cpuMs(h.shim.pid) - cpu0;
    h.gateway && process.kill(h.gateway.pid, 'SIGKILL');
    return { mibPerS: floodMiB / seconds, cpuMsPerMiB: cpu / floodMiB, peakRss: peak };
  } finally {
    for (const h of handles) {
      if (h.gateway) {
        try {
          process.kill(h.gateway.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
    // The handle detached: the exit is read from exit.json by a fresh attach.
    const { attachShim } = await import('../dist/supervise/shim-client.js');
    for (let i = 0; i < 100; i++) {
      const a = await attachShim(join(dir, 'agent-0'));
      if (!a.ok && a.reason === 'exited') {
        await a.handle.close();
        break;
      }
      if (a.ok) a.handle.on('output', () => undefined);
      await sleep(50);
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/** USS and load time of a bare Node that imports `modules` (what each piece of the shim costs). */
function moduleCost(modules) {
  const code = `
    const t0 = performance.now();
    for (const m of ${JSON.stringify(modules)}) await import(m);
    const ms = performance.now() - t0;
    const sm = (await import('node:fs')).readFileSync('/proc/self/smaps_rollup', 'utf8');
    const f = (n) => Number(sm.split('\\n').find((l) => l.startsWith(n + ':')).split(/ +/)[1]) * 1024;
    console.log(JSON.stringify({ ms, uss: f('Private_Clean') + f('Private_Dirty'), rss: f('Rss') }));
  `;
  const runs = [];
  for (let i = 0; i < 3; i++) runs.push(JSON.parse(spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', cwd: fileURLToPath(new URL('..', import.meta.url)) }).stdout));
  return { ms: mean(runs.map((r) => r.ms)), uss: mean(runs.map((r) => r.uss)), rss: mean(runs.map((r) => r.rss)) };
}

const started = new Date();
const dist = (p) => new URL(`../dist/${p}`, import.meta.url).href;
const moduleRows = [
  ['node only (node:net, node:child_process, node:fs)', ['node:net', 'node:child_process', 'node:fs']],
  ['+ zod (the shared protocol module)', ['node:net', 'node:child_process', 'node:fs', dist('shim/protocol.js')]],
  ['+ the whole shim (run.js)', ['node:net', 'node:child_process', 'node:fs', dist('shim/run.js')]],
  ['for comparison: execa', ['execa']],
].map(([name, modules]) => ({ name, ...moduleCost(modules) }));
const idleRows = [];
const floodRows = [];
const bootRows = [];
for (const name of variants) {
  const flags = VARIANTS[name];
  if (!flags) throw new Error(`unknown variant ${name}; known: ${Object.keys(VARIANTS).join(', ')}`);
  log(`${name}: boot ...`);
  bootRows.push({ name, ...measureBoot(name) });
  for (const n of sizes) {
    log(`${name}: ${n} shim(s) ...`);
    idleRows.push({ name, flags, n, ...(await measureIdle(name, n)) });
  }
  log(`${name}: flood of ${floodMiB} MiB ...`);
  floodRows.push({ name, ...(await measureFlood(name)) });
}

const cpu = cpus()[0]?.model ?? 'unknown CPU';
const lines = [
  `# Per-agent shim: memory, start-up and CPU (${started.toISOString().slice(0, 10)})`,
  '',
  `- date: ${started.toISOString()}; load average at the end: ${loadavg()[0].toFixed(2)}`,
  `- machine: ${availableParallelism()} CPUs (${cpu.trim()}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${release()}; shims on Node ${process.version}`,
  `- each shim holds a quiet gateway (a shell loop printing a line a second); memory read ${settleMs / 1000} s after the last start, from /proc/<pid>/smaps_rollup; idle CPU over the ${cpuWindowMs / 1000} s after that (clock ticks of ${1000 / TICKS} ms)`,
  '- start-up and flood figures depend on the load of this shared machine (see load average): compare rows of one report',
  '- USS = private clean + private dirty (what one more shim costs); PSS also charges each shim its share of pages shared by all N (node binary, libraries)',
  '',
  '- `native` is the C shim (dist/shim/fleetd-shim); every other row is the Node shim (dist/shim/main.js) with those Node flags',
  '',
  '## Boot (run by hand 50 times in a row under one /usr/bin/time: CPU per run, the shell loop included; peak RSS of the runs)',
  '',
  '| shim | CPU, nothing on stdin, ms | peak RSS, nothing on stdin, MB | CPU, whole life with /bin/true, ms | peak RSS, whole life, MB |',
  '| --- | --- | --- | --- | --- |',
  ...[...bootRows, { name: BASELINE, ...measureBoot(BASELINE) }].map((r) => `| ${r.name} | ${r.emptyCpuMs.toFixed(1)} | ${mb(r.emptyRss)} | ${r.lifeCpuMs.toFixed(1)} | ${mb(r.lifeRss)} |`),
  '',
  '## Per shim (MB, ms: means over the N shims)',
  '',
  '| flags | N | RSS | PSS | USS | start (launch -> attached), ms | CPU to start, ms | idle CPU, ms/min |',
  '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ...idleRows.map((r) => `| ${r.name}${r.flags.length ? ` (\`${r.flags.join(' ')}\`)` : ''} | ${r.n} | ${mb(r.rss)} | ${mb(r.pss)} | ${mb(r.uss)} | ${r.startMs.toFixed(0)} | ${r.startCpuMs.toFixed(0)} | ${r.idleCpuMsPerMin.toFixed(1)} |`),
  '',
  '## What the shim\'s modules cost (a bare Node importing them, mean of 3)',
  '',
  '| modules | USS, MB | RSS, MB | import time, ms |',
  '| --- | --- | --- | --- |',
  ...moduleRows.map((r) => `| ${r.name} | ${mb(r.uss)} | ${mb(r.rss)} | ${r.ms.toFixed(0)} |`),
  '',
  `## Flood: one gateway writing ${floodMiB} MiB as fast as it can, nobody attached (log redacted and rotated at 10 MiB)`,
  '',
  '| flags | MiB/s through the shim | shim CPU, ms per MiB | shim peak RSS, MB |',
  '| --- | --- | --- | --- |',
  ...floodRows.map((r) => `| ${r.name} | ${r.mibPerS.toFixed(0)} | ${r.cpuMsPerMiB.toFixed(1)} | ${mb(r.peakRss)} |`),
  '',
];
const report = lines.join('\n');
process.stdout.write(report);
// Appended one heading level down: the file keeps every earlier run's figures.
const section = report.replace(/^(#+) /gm, '#$1 ');
appendFileSync(values.out, `\n${section}`);
log(`appended to ${values.out}`);
