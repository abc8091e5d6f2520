// The two peers of the overhead benchmark, driven like fleetd (bench/overhead.mjs): PM2 and
// supervisord supervising the same N busybox children. Each driver starts its daemon with
// all N configured, lists the children (name, pid, running), runs its own status command
// (timed), stops and starts them all with its own command, and shuts down with SIGTERM to
// its daemon. Install them with bench/setup-peers.sh.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { busybox } from './overhead-lib.mjs';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
/** The longest one PM2 CLI call may take (ms); its slowest, `stop all` at N = 200, takes ~11 s. */
const PM2_CALL_TIMEOUT_MS = 120_000;

/** Whether `pid` runs PM2 (its daemon's title is "PM2 v7...: God Daemon"); false once it is gone. */
function isPm2(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('PM2');
  } catch {
    return false;
  }
}

/** The N children: name and port. */
function children(n, portBase) {
  return Array.from({ length: n }, (_, i) => ({ name: `c${String(i + 1).padStart(3, '0')}`, port: portBase + i * 100 }));
}

/** PM2 (bench/.peers/node_modules/.bin/pm2), its home in `dir`. */
export function pm2Driver(dir, n, { www, portBase }) {
  const bin = join(here, '.peers', 'node_modules', '.bin', 'pm2');
  if (!existsSync(bin)) throw new Error('PM2 is not installed: run bench/setup-peers.sh');
  const home = join(dir, 'pm2home');
  mkdirSync(home, { recursive: true });
  const env = { ...process.env, PM2_HOME: home };
  const eco = join(dir, 'ecosystem.config.cjs');
  const kids = children(n, portBase);
  const portOf = new Map(kids.map((c) => [c.name, c.port]));
  const apps = kids.map((c) => ({ name: c.name, script: busybox(), args: ['httpd', '-f', '-p', `127.0.0.1:${c.port}`, '-h', www], interpreter: 'none', autorestart: true, restart_delay: 0 }));
  writeFileSync(eco, `module.exports = ${JSON.stringify({ apps }, null, 2)};\n`);
  const pm2 = async (...args) => {
    const t0 = performance.now();
    // a bound on each call: `pm2 kill` was seen waiting 16 minutes for a daemon already gone
    const { stdout } = await run(bin, args, { env, maxBuffer: 64 << 20, timeout: PM2_CALL_TIMEOUT_MS, killSignal: 'SIGKILL' });
    return { ms: performance.now() - t0, stdout };
  };
  const daemonPid = () => {
    try {
      return Number(readFileSync(join(home, 'pm2.pid'), 'utf8').trim()) || null;
    } catch {
      return null;
    }
  };
  return {
    name: `PM2 ${JSON.parse(readFileSync(join(here, '.peers', 'node_modules', 'pm2', 'package.json'), 'utf8')).version}`,
    async start() {
      await pm2('start', eco);
    },
    daemonPid,
    async agents() {
      const { stdout } = await pm2('jlist');
      const list = JSON.parse(stdout.slice(stdout.indexOf('[')));
      return list.map((p) => ({ name: p.name, pid: p.pid || null, port: portOf.get(p.name) ?? null, running: p.pm2_env?.status === 'online' && p.pid > 0 }));
    },
    statusCommand: async () => (await pm2('jlist')).ms,
    stopAll: () => pm2('stop', 'all'),
    startAll: () => pm2('start', 'all'),
    async shutdown() {
      const pid = daemonPid();
      if (pid) process.kill(pid, 'SIGTERM');
    },
    async cleanup() {
      try {
        await pm2('kill');
      } catch (err) {
        console.error(`pm2 kill: ${err.killed ? `no answer in ${PM2_CALL_TIMEOUT_MS / 1000} s, killed` : err.message.split('\n')[0]}`);
        // what it left: its daemon, by the pid it wrote, if that pid is still PM2's (not reused)
        const pid = daemonPid();
        if (pid && isPm2(pid)) process.kill(pid, 'SIGKILL');
      }
    },
  };
}

/** supervisord (Debian's 4.2.5) in the foreground, its socket and logs in `dir`. */
export function supervisordDriver(dir, n, { www, portBase }) {
  const conf = join(dir, 'supervisord.conf');
  const kids = children(n, portBase);
  const portOf = new Map(kids.map((c) => [c.name, c.port]));
  const sections = [
    `[unix_http_server]\nfile=${join(dir, 'supervisor.sock')}\nchmod=0700`,
    `[supervisord]\nlogfile=${join(dir, 'supervisord.log')}\npidfile=${join(dir, 'supervisord.pid')}\nnodaemon=true\nchildlogdir=${dir}\nminfds=4096`,
    `[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface`,
    `[supervisorctl]\nserverurl=unix://${join(dir, 'supervisor.sock')}`,
    ...kids.map((c) => `[program:${c.name}]\ncommand=${busybox()} httpd -f -p 127.0.0.1:${c.port} -h ${www}\nautorestart=true\nstopwaitsecs=5`),
  ];
  writeFileSync(conf, sections.join('\n\n') + '\n');
  let daemon = null;
  const ctl = async (...args) => {
    const t0 = performance.now();
    // exit status 3 = some process is not running: not an error here
    const { stdout } = await run('supervisorctl', ['-c', conf, ...args], { maxBuffer: 64 << 20 }).catch((err) => (err.stdout !== undefined ? err : Promise.reject(err)));
    return { ms: performance.now() - t0, stdout };
  };
  return {
    name: 'supervisord 4.2.5',
    async start() {
      daemon = spawn('supervisord', ['-c', conf], { stdio: 'ignore' });
    },
    daemonPid: () => daemon?.pid ?? null,
    async agents() {
      const { stdout } = await ctl('status');
      return stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const m = /^(\S+)\s+(\S+)\s+(?:pid (\d+))?/.exec(line);
          return { name: m?.[1], pid: m?.[3] ? Number(m[3]) : null, port: portOf.get(m?.[1]) ?? null, running: m?.[2] === 'RUNNING' };
        });
    },
    statusCommand: async () => (await ctl('status')).ms,
    stopAll: () => ctl('stop', 'all'),
    startAll: () => ctl('start', 'all'),
    async shutdown() {
      daemon?.kill('SIGTERM');
    },
    async cleanup() {
      if (daemon && daemon.exitCode === null) daemon.kill('SIGKILL');
    },
  };
}
