#!/usr/bin/env node
// Live restore at scale (issue "Every agent in its own cgroup and OS user"): with N small
// gateways running (busybox httpd answering /healthz, as bench/overhead.mjs), how long until
// the next fleetd has adopted all of them (status: N running, every pid unchanged)
//   crash:   fleetd SIGKILLed, a new one started at once (what systemd's Restart= does)
//   restart: `fleetctl daemon restart` (fleetd starts its successor itself, without systemd)
// and what holds each gateway's output while no fleetd runs: the per-agent shims' memory
// (PSS and USS from /proc/<pid>/smaps_rollup, mean per shim), plus fleetd's own RSS before
// and after. Asserts nothing; run it ALONE on the machine:
//   flock /tmp/fleetd-heavy.lock node bench/adopt.mjs [--n 50,200] [--port-base 40000] [--out FILE]
// Needs busybox (bench/setup-peers.sh installs it) and a built checkout (npm run build).
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { agentsOf, makeWorkDir, overheadManifest, pollUntil, removeDir, rssOf, socketCall, startFleetd, unitNodeOptions } from './overhead-lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '50,200' },
    'port-base': { type: 'string', default: '40000' },
    out: { type: 'string', default: join(here, 'adopt-results.md') },
  },
});
const sizes = values.n.split(',').map(Number);
const log = (line) => process.stderr.write(`adopt: ${line}\n`);
const sec = (ms) => (ms / 1000).toFixed(2);
const mib = (bytes) => (bytes / 1048576).toFixed(1);
const nodeOptions = unitNodeOptions(root);

/** fleetctl --json against `socket`; resolves with its parsed output (or null). */
function fleetctl(socket, ...args) {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(root, 'bin', 'fleetctl.js'), '--socket', socket, '--json', ...args], { maxBuffer: 64 << 20 }, (_err, stdout) => {
      try {
        resolve(JSON.parse(stdout));
      } catch {
        resolve(null);
      }
    });
  });
}

/** pid -> gateway pid of every agent once all `n` run; undefined before. */
async function runningPids(socket, n) {
  const agents = await agentsOf(socket).catch(() => undefined);
  if (!agents || agents.length !== n || agents.some((a) => a.state !== 'running')) return undefined;
  return new Map(agents.map((a) => [a.address, a.pid]));
}

/** Mean PSS and USS (bytes) of the processes named fleetd-shim whose parent chain is not ours to judge: all on the host. */
function shimMemory() {
  const per = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (!readFileSync(`/proc/${name}/cmdline`, 'utf8').startsWith('fleetd-shim ')) continue; // a shim names itself `fleetd-shim FLEET/AGENT` (process.title)
      const text = readFileSync(`/proc/${name}/smaps_rollup`, 'utf8');
      const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0) * 1024;
      per.push({ pss: kb('Pss'), uss: kb('Private_Clean') + kb('Private_Dirty') });
    } catch {
      // gone meanwhile
    }
  }
  const mean = (k) => per.reduce((s, x) => s + x[k], 0) / Math.max(1, per.length);
  return { count: per.length, pss: mean('pss'), uss: mean('uss') };
}

const rows = [];
for (const n of sizes) {
  const { dir, www } = makeWorkDir();
  const manifest = overheadManifest(n, { www, portBase: Number(values['port-base']), intervalMs: 10_000, root });
  let f = startFleetd(root, dir, manifest, nodeOptions);
  const socket = f.socket;
  const row = { n, load: loadavg()[0].toFixed(2) };
  try {
    const before = await pollUntil(() => (f.alive(), runningPids(socket, n)), { everyMs: 100, what: `${n} running` });
    row.fleetdRss = rssOf(f.child.pid);
    row.shims = shimMemory();
    log(`N=${n}: all running; ${row.shims.count} shims, PSS ${mib(row.shims.pss)} MiB each`);

    // crash: SIGKILL, then a new fleetd at once
    const t0 = performance.now();
    f.child.kill('SIGKILL');
    await f.exited;
    f.saveLog();
    f = startFleetd(root, dir, manifest, nodeOptions);
    const after = await pollUntil(() => (f.alive(), runningPids(socket, n)), { everyMs: 20, what: `${n} adopted after SIGKILL` });
    row.crashMs = performance.now() - t0;
    row.crashSame = [...before].filter(([a, pid]) => after.get(a) === pid).length;
    row.fleetdRssAfter = rssOf(f.child.pid);
    log(`N=${n}: SIGKILL -> all adopted in ${sec(row.crashMs)} s (${row.crashSame}/${n} same pids)`);

    // restart: fleetctl daemon restart; the successor is not our child
    const oldPid = f.child.pid;
    const t1 = performance.now();
    await fleetctl(socket, 'daemon', 'restart');
    await f.exited;
    const again = await pollUntil(async () => {
      const r = await socketCall(socket, 'GET', '/v1/agents').catch(() => undefined);
      if (!r || r.status !== 200 || r.body?.daemon?.pid === oldPid) return undefined;
      return runningPids(socket, n);
    }, { everyMs: 20, what: `${n} adopted after daemon restart` });
    row.restartMs = performance.now() - t1;
    row.restartSame = [...before].filter(([a, pid]) => again.get(a) === pid).length;
    log(`N=${n}: daemon restart -> all adopted in ${sec(row.restartMs)} s (${row.restartSame}/${n} same pids)`);
  } finally {
    await fleetctl(socket, 'daemon', 'stop');
    f.saveLog();
    removeDir(dir);
  }
  rows.push(row);
}

const lines = [
  '# Live restore at scale: adoption time and what holds the output',
  '',
  `- date: ${new Date().toISOString()}; machine: ${availableParallelism()} CPUs (${cpus()[0]?.model ?? 'unknown'}), Linux ${release()}; fleetd on Node ${process.version}${nodeOptions ? ` with NODE_OPTIONS=${nodeOptions}` : ''}`,
  '- gateways: busybox httpd answering /healthz (bench/overhead.mjs), each under its own fleetd-shim; "adopted": status shows all N running with the pids they had before',
  '',
  '| N | load | fleetd SIGKILL -> new fleetd has adopted all, s | same pids | `daemon restart` -> successor has adopted all, s | same pids | shim PSS / USS per agent, MiB | fleetd RSS before / after adoption, MiB |',
  '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ...rows.map((r) => `| ${r.n} | ${r.load} | ${sec(r.crashMs)} | ${r.crashSame}/${r.n} | ${sec(r.restartMs)} | ${r.restartSame}/${r.n} | ${mib(r.shims.pss)} / ${mib(r.shims.uss)} | ${mib(r.fleetdRss)} / ${mib(r.fleetdRssAfter)} |`),
  '',
];
const report = lines.join('\n');
process.stdout.write(report);
writeFileSync(values.out, report);
