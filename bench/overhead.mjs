#!/usr/bin/env node
// fleetd's own overhead (issue 14): a supervisor alone with N tiny children (busybox httpd
// answering /healthz from a static file), N = 50 and 200 by default, fleetd and (with
// --targets) PM2 and supervisord on the same children. For each target and N it measures
// every row of the issue's table: start all until the tool's status shows N running; the
// daemon's RSS with all running and after the idle window; its idle CPU; `status` latency
// (its CLI; for fleetd also the bare socket request); kill -9 of a child until the tool
// reports it running again; stop all (daemon stays) until no child is left; start all
// again; SIGTERM to the daemon until no child is left; for fleetd, RSS through a soak of
// probing (--soak-ms; 3600000 for the hour, by hand). The host's load average is recorded
// before each trial. Asserts nothing; run it ALONE on the machine:
//   flock /tmp/fleetd-heavy.lock node bench/overhead.mjs [--n 50,200] [--targets fleetd,pm2,supervisord]
//        [--idle-ms 60000] [--soak-ms 120000] [--trials 1] [--root DIR (a built fleetd checkout)] [--out FILE]
// bench/setup-peers.sh installs busybox, supervisord and PM2 (never project dependencies).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { answeringAgain, busybox, childrenWith, runSeconds, fleetdDriver, makeWorkDir, median, pollUntil, pssOf, removeDir, rssOf, takesPortPlaceholder, unitNodeOptions } from './overhead-lib.mjs';
import { pm2Driver, supervisordDriver } from './peers.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '50,200' },
    targets: { type: 'string', default: 'fleetd' },
    'idle-ms': { type: 'string', default: '60000' },
    'soak-ms': { type: 'string', default: '120000' },
    'interval-ms': { type: 'string', default: '10000' },
    trials: { type: 'string', default: '1' },
    kills: { type: 'string', default: '5' },
    root: { type: 'string', default: join(here, '..') },
    label: { type: 'string', default: '' },
    out: { type: 'string', default: join(here, 'overhead-results.md') },
    'port-base': { type: 'string', default: '10000' },
    // default: what the systemd unit of --root sets, so the figures are those of the shipped setup
    'node-options': { type: 'string' },
  },
});
const sizes = values.n.split(',').map(Number);
const targets = values.targets.split(',');
const idleMs = Number(values['idle-ms']);
const soakMs = Number(values['soak-ms']);
const intervalMs = Number(values['interval-ms']);
const trials = Number(values.trials);
const kills = Number(values.kills);
const log = (line) => process.stderr.write(`overhead: ${line}\n`);
const mib = (b) => (b / 1048576).toFixed(1);
const sec = (ms) => (ms === null || ms === undefined ? '-' : (ms / 1000).toFixed(2));
const nodeOptions = values['node-options'] ?? unitNodeOptions(values.root);
const drivers = {
  fleetd: (dir, n, opts) => fleetdDriver(values.root, dir, n, { ...opts, nodeOptions }),
  pm2: pm2Driver,
  supervisord: supervisordDriver,
};
for (const t of targets) if (!drivers[t]) throw new Error(`unknown target ${t}: one of ${Object.keys(drivers).join(', ')}`);

/** Waits until the tool's status shows `n` children running; returns them. */
function waitRunning(d, n, what) {
  return pollUntil(async () => {
    const agents = await d.agents().catch(() => undefined);
    return agents && agents.filter((a) => a.running).length >= n ? agents : undefined;
  }, { everyMs: 20, what });
}

/** One trial of target `name` at size n; returns its row. */
async function trial(name, n) {
  const { dir, www } = makeWorkDir();
  const d = drivers[name](dir, n, { www, portBase: Number(values['port-base']), intervalMs });
  const row = { target: d.name, n, load: loadavg()[0].toFixed(2) };
  const tag = `${d.name} N=${n}`;
  try {
    const t0 = performance.now();
    await d.start();
    await waitRunning(d, n, `${n} running after start`);
    row.startMs = performance.now() - t0;
    const pid = d.daemonPid();
    row.rssRunning = rssOf(pid);
    log(`${tag}: all running after ${sec(row.startMs)} s, daemon RSS ${mib(row.rssRunning)} MiB`);

    // Idle: a settle period, then the daemon's CPU over the window (and its helpers': fleetd's per-agent shims).
    // The settle period's own CPU is a row too: what a daemon does once its start is over
    // (fleetd gives memory back there, 2 s after its fleet settles) is not hidden by the window.
    const s0 = runSeconds(pid);
    const settleStart = performance.now();
    await sleep(Math.min(10_000, idleMs / 4));
    row.settleCpuMs = (runSeconds(pid) - s0) * 1000;
    row.settleMs = performance.now() - settleStart;
    const helpers = d.helperPids ? d.helperPids() : [];
    const helperCpu = () => helpers.reduce((sum, p) => sum + (runSeconds(p) ?? 0), 0);
    // scheduler run time (schedstat), as for the shims: utime+stime is charged by ticks, and a daemon idling in short bursts is sampled, not measured
    const c0 = runSeconds(pid);
    const h0 = helperCpu();
    const w0 = performance.now();
    await sleep(idleMs);
    const windowSec = (performance.now() - w0) / 1000;
    row.idleCpu = ((runSeconds(pid) - c0) / windowSec) * 100;
    row.rssIdle = rssOf(pid);
    log(`${tag}: idle CPU ${row.idleCpu.toFixed(2)} %, RSS after idle ${mib(row.rssIdle)} MiB`);
    if (helpers.length > 0) {
      row.helpers = { count: helpers.length, cpu: ((helperCpu() - h0) / windowSec) * 100, pss: helpers.reduce((sum, p) => sum + pssOf(p), 0), rss: helpers.reduce((sum, p) => sum + rssOf(p), 0) };
      log(`${tag}: ${helpers.length} shims: idle CPU ${row.helpers.cpu.toFixed(2)} % in all, PSS ${mib(row.helpers.pss)} MiB (RSS ${mib(row.helpers.rss)} MiB) in all`);
    }

    // status latency: the tool's own status command (and fleetd's bare socket request).
    const cli = [];
    const raw = [];
    for (let i = 0; i < 7; i++) {
      cli.push(await d.statusCommand());
      if (d.statusRaw) raw.push(await d.statusRaw());
    }
    row.statusCli = median(cli);
    row.statusRaw = median(raw);
    log(`${tag}: status ${row.statusCli.toFixed(0)} ms${row.statusRaw === null ? '' : `, socket ${row.statusRaw.toFixed(1)} ms`}`);

    // kill -9 of a child until the tool reports it running again (a new pid).
    // Beside it, the same kill until the new child itself answers /healthz (answeringAgain):
    // the restart without the tool's status path (the peers' is one CLI run).
    const recoveries = [];
    const answers = [];
    let agents = await d.agents();
    for (let i = 0; i < kills; i++) {
      const victim = agents[Math.floor((i + 0.5) * (agents.length / kills))];
      const tk = performance.now();
      process.kill(victim.pid, 'SIGKILL');
      const answered = victim.port ? answeringAgain(victim.port, victim.pid, tk) : Promise.resolve(null);
      await pollUntil(async () => {
        const a = (await d.agents().catch(() => []))?.find((x) => x.name === victim.name);
        return a && a.running && a.pid !== victim.pid ? a : undefined;
      }, { everyMs: 2, what: `${victim.name} running again` });
      recoveries.push(performance.now() - tk);
      answers.push(await answered);
      await sleep(1500);
      agents = await d.agents();
    }
    row.killMs = median(recoveries);
    row.killAnswerMs = median(answers);
    log(`${tag}: kill -9 to running again ${row.killMs.toFixed(0)} ms, to the new child answering /healthz ${row.killAnswerMs === null ? '-' : `${row.killAnswerMs.toFixed(0)} ms`} (medians of ${kills})`);

    // Stop all (the daemon stays) until no child is left.
    row.stopHow = d.stopHow ? await d.stopHow() : 'its stop-all command';
    const ts = performance.now();
    const stopping = d.stopAll();
    await pollUntil(() => childrenWith(www).length === 0, { everyMs: 10, what: 'no child left after stop all' });
    row.stopMs = performance.now() - ts;
    await stopping;
    row.stopCmdMs = performance.now() - ts;
    log(`${tag}: stop all: no child after ${sec(row.stopMs)} s (command returned after ${sec(row.stopCmdMs)} s)`);

    // Start all again.
    const ta = performance.now();
    const starting = d.startAll();
    await waitRunning(d, n, `${n} running after start all`);
    row.restartMs = performance.now() - ta;
    await starting;
    log(`${tag}: start all again: ${sec(row.restartMs)} s`);

    // Soak (fleetd: it probes; the peers do nothing while idle): RSS every minute.
    if (name === 'fleetd' && soakMs > 0) {
      const samples = [rssOf(pid)];
      const sc0 = runSeconds(pid);
      const sw0 = performance.now();
      const soakEnd = sw0 + soakMs;
      while (performance.now() < soakEnd) {
        await sleep(Math.min(60_000, soakEnd - performance.now()));
        samples.push(rssOf(pid));
      }
      row.soakCpu = ((runSeconds(pid) - sc0) / ((performance.now() - sw0) / 1000)) * 100;
      row.soak = samples;
      log(`${tag}: soak ${sec(soakMs)} s: RSS ${samples.map(mib).join(' -> ')} MiB, CPU ${row.soakCpu.toFixed(2)} %`);
    }

    // Shutdown: SIGTERM to the daemon until no child is left.
    const td = performance.now();
    const down = d.shutdown();
    await pollUntil(() => childrenWith(www).length === 0, { everyMs: 10, what: 'no child left after SIGTERM' });
    row.shutdownMs = performance.now() - td;
    await down;
    log(`${tag}: shutdown: no child after ${sec(row.shutdownMs)} s`);
  } finally {
    await d.cleanup().catch((err) => log(`cleanup: ${err.message}`));
    for (const p of childrenWith(www)) process.kill(p, 'SIGKILL');
    done.push(dir);
  }
  return row;
}

// Each trial's work dir is removed at the end of the run, not after the trial. This host's
// ext4 runs without a journal, and then the kernel will not reuse an inode deleted in the last
// 60 s (or 360 s while its inode table block is dirty): every new inode is allocated past the
// recently deleted ones, each checked in the buffer cache (fs/ext4/ialloc.c recently_deleted).
// A trial's ~5000 files and folders, deleted before the next trial, made its first start's
// mkdirs ~0.15 ms each instead of ~0.02 (perf: find_get_block_common and recently_deleted at
// 9 % of the host's CPU), fleetd's first start slower by trials run before it, and PM2's not.
const done = [];
process.on('exit', () => {
  for (const dir of done) removeDir(dir);
});

busybox(); // fail early, naming the fix
const started = new Date();
const rows = [];
for (const n of sizes) {
  for (const name of targets) {
    const runs = [];
    for (let t = 0; t < trials; t++) {
      log(`${name} N=${n}: trial ${t + 1}/${trials}, host load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
      runs.push(await trial(name, n));
    }
    const pick = (k) => median(runs.map((r) => r[k]));
    rows.push({
      target: runs[0].target,
      n,
      load: runs.map((r) => r.load).join(', '),
      ...Object.fromEntries(['startMs', 'rssRunning', 'settleCpuMs', 'settleMs', 'rssIdle', 'idleCpu', 'statusCli', 'statusRaw', 'killMs', 'killAnswerMs', 'stopMs', 'stopCmdMs', 'restartMs', 'shutdownMs', 'soakCpu'].map((k) => [k, pick(k)])),
      stopHow: runs[0].stopHow,
      soak: runs[0].soak,
      helpers: runs[0].helpers,
    });
  }
}

let commit = 'not a git checkout';
try {
  commit = execFileSync('git', ['-C', values.root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
} catch {
  // keep the default
}
const lines = [];
lines.push(`# Overhead benchmark${values.label ? `: ${values.label}` : ''}`);
lines.push('');
lines.push(`- date: ${started.toISOString()}; fleetd from ${values.root} (${commit}); benchmark on Node ${process.version}`);
lines.push(`- machine: ${availableParallelism()} CPUs (${cpus()[0]?.model ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${release()}`);
lines.push(`- child: \`${busybox()} httpd -f\` serving /healthz and /readyz from a static folder (fleetd: ${takesPortPlaceholder(values.root) ? 'run directly, its port through the {port} placeholder, like the peers\' children' : 'through `sh -c exec ...`, which puts the appended --port in place: one more exec per child than the peers\''}); fleetd: health.intervalMs ${intervalMs}, startConcurrency 64, restart.initialDelayMs 0, NODE_OPTIONS=${nodeOptions ? `\`${nodeOptions}\`` : '(none)'}`);
lines.push(`- idle window ${sec(idleMs)} s after all running (+ settle); trials per row: ${trials} (medians); kill -9: median of ${kills}; fleetd soak ${sec(soakMs)} s`);
lines.push(`- "running" is what each tool's status reports: fleetd's socket polled every 20 ms (2 ms after a kill); PM2 (\`pm2 jlist\`) and supervisord (\`supervisorctl status\`) through their CLIs, so their times include one CLI call`);
lines.push('');
lines.push('| row | ' + rows.map((r) => `${r.target}, N = ${r.n}`).join(' | ') + ' |');
lines.push('| --- | ' + rows.map(() => '---').join(' | ') + ' |');
const add = (label, f) => lines.push(`| ${label} | ${rows.map((r) => f(r) ?? '-').join(' | ')} |`);
add('host load (1-min) before each trial', (r) => r.load);
add('the daemon\'s CPU in the settle period after all running (scheduler run time; fleetd gives memory back in it)', (r) => (r.settleCpuMs == null ? null : `${r.settleCpuMs.toFixed(0)} ms in ${sec(r.settleMs ?? 10_000)} s`));
add('idle CPU of the daemon (scheduler run time)', (r) => `${r.idleCpu.toFixed(2)} %`);
add('daemon RSS, all running / after idle', (r) => `${mib(r.rssRunning)} / ${mib(r.rssIdle)} MiB`);
add('start all until status shows N running', (r) => `${sec(r.startMs)} s`);
add('stop all (daemon stays) until no child left', (r) => `${sec(r.stopMs)} s (${r.stopHow}; returned after ${sec(r.stopCmdMs)} s)`);
add('start all again', (r) => `${sec(r.restartMs)} s`);
add('kill -9 of a child until status shows it running', (r) => `${r.killMs.toFixed(0)} ms`);
add('kill -9 of a child until the new child answers /healthz (asked every 1 ms; no status involved)', (r) => (r.killAnswerMs === null ? '-' : `${r.killAnswerMs.toFixed(0)} ms`));
add('`status` latency (CLI; fleetd: / bare socket request)', (r) => `${r.statusCli.toFixed(0)} ms${r.statusRaw === null ? '' : ` / ${r.statusRaw.toFixed(1)} ms`}`);
add('shutdown (SIGTERM) until no child left', (r) => `${sec(r.shutdownMs)} s`);
add(`fleetd: RSS through the soak, every minute`, (r) => (r.soak ? `${r.soak.map(mib).join(' → ')} MiB` : null));
add('fleetd: CPU during the soak (scheduler run time)', (r) => (r.soakCpu === null ? null : `${r.soakCpu.toFixed(2)} %`));
add('fleetd: its per-agent shims, idle CPU (scheduler run time) / PSS (RSS) in all', (r) => (r.helpers ? `${r.helpers.count} shims: ${r.helpers.cpu.toFixed(2)} % / ${mib(r.helpers.pss)} MiB (${mib(r.helpers.rss)} MiB)` : null));
const report = lines.join('\n') + '\n';
process.stdout.write(report);
writeFileSync(values.out, report);
log(`written to ${values.out}`);
