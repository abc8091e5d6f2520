// Building blocks of the overhead benchmark (bench/overhead.mjs): a tiny child that answers
// /healthz (busybox httpd serving a static file), a fleetd run on N of them, its CPU and
// memory read from /proc, and calls on its control socket with nothing but node:http (so
// the same script can drive a fleetd of another checkout, e.g. main before a change).
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** The busybox binary (apt-get install busybox); throws naming the fix when missing. */
export function busybox() {
  for (const path of ['/usr/bin/busybox', '/bin/busybox', '/usr/local/bin/busybox']) {
    try {
      execFileSync(path, ['true']);
      return path;
    } catch {
      // next
    }
  }
  throw new Error('busybox not found: run bench/setup-peers.sh (or apt-get install busybox)');
}

/** A temp folder with the child's document root (`healthz`, `readyz` answer 200 "ok"). */
export function makeWorkDir() {
  const dir = mkdtempSync(join(tmpdir(), 'fleetd-overhead-'));
  const www = join(dir, 'www');
  mkdirSync(www);
  writeFileSync(join(www, 'healthz'), '{"ok":true,"status":"live"}\n');
  writeFileSync(join(www, 'readyz'), '{"ready":true,"failing":[]}\n');
  return { dir, www };
}

/** Whether the fleetd of checkout `root` takes `{port}` in gateway.command (src/daemon/launch.ts, since issue 14's eighth session). */
export function takesPortPlaceholder(root) {
  try {
    return readFileSync(join(root, 'src', 'daemon', 'launch.ts'), 'utf8').includes('PORT_PLACEHOLDER');
  } catch {
    return false;
  }
}

// The same child as the peers run: busybox httpd itself, its port in its argv through fleetd's
// {port} placeholder. A fleetd without the placeholder appends `--port P`, which a shell moves
// into place ($2): one more exec per child (dash, with its loader's start-up), that the peers'
// children never paid; the report says which way the children ran.
/** argv of one child of the fleetd of checkout `root`. */
export function childCommand(www, root) {
  if (takesPortPlaceholder(root)) return [busybox(), 'httpd', '-f', '-p', '127.0.0.1:{port}', '-h', www];
  return ['/bin/sh', '-c', `exec ${busybox()} httpd -f -p 127.0.0.1:"$2" -h ${www}`, 'busybox-httpd'];
}

/** A manifest of N children in one fleet, as the issue ran them (10 s probes, 64 boots at once, minimal restart delay). */
export function overheadManifest(n, { www, portBase, intervalMs, root }) {
  const agents = Object.fromEntries(Array.from({ length: n }, (_, i) => [`c${String(i + 1).padStart(3, '0')}`, {}]));
  return {
    version: 1,
    stateDir: './state',
    socket: './fleetd.sock',
    startConcurrency: 64,
    // room for every block above any base (the adopt bench uses 40000)
    ports: { base: portBase, blockSize: 100, max: Math.min(65535, Math.max(32700, portBase + (n + 1) * 100)) },
    gateway: { command: childCommand(www, root), stopTimeoutMs: 5000 },
    restart: { initialDelayMs: 0, factor: 1, maxDelayMs: 0, resetAfterMs: 60000, noRestartExitCodes: [78] },
    health: { intervalMs, timeoutMs: 2000, failureThreshold: 3, startupTimeoutMs: 30000 },
    logs: { maxBytes: 1048576, maxFiles: 2 },
    fleets: { bench: { agents } },
  };
}

/**
 * Time `pid` spent on a CPU, seconds, from the scheduler (/proc/<pid>/task/<tid>/schedstat,
 * nanoseconds, summed over its threads); null when it is gone. For processes that run in
 * short bursts (a shim's readiness check: ~0.3 ms every 10 s) utime+stime stays at 0: this
 * kernel charges them by ticks, and a burst between two ticks is not seen.
 */
export function runSeconds(pid) {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // a thread that ended meanwhile
      }
    }
    return ns / 1e9;
  } catch {
    return null;
  }
}

/** VmRSS of `pid` in bytes (0 when gone). */
export function rssOf(pid) {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** PSS of `pid` in bytes (/proc/<pid>/smaps_rollup: its share of pages shared with others), 0 when gone. */
export function pssOf(pid) {
  try {
    const m = /^Pss:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Living children of `ppid` whose command line contains one of `markers`. */
export function childrenOf(ppid, markers) {
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (rest[0] === 'Z' || Number(rest[1]) !== ppid) continue;
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'latin1');
      if (markers.some((m) => cmdline.includes(m))) out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}

/** Pids of living processes whose command line contains `marker` (the run's document root). */
export function childrenWith(marker) {
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (!readFileSync(`/proc/${name}/cmdline`, 'latin1').includes(marker)) continue;
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') continue;
      out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}

/** One request on the control socket: resolves with { status, body, ms }. */
export function socketCall(socket, method, path, body) {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, method, path, headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {} }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
        }
        resolve({ status: res.statusCode, body: json, ms: performance.now() - t0 });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** The agents of `status`, or undefined while fleetd does not answer. */
export async function agentsOf(socket) {
  try {
    const r = await socketCall(socket, 'GET', '/v1/agents');
    return r.status === 200 ? r.body.agents : undefined;
  } catch {
    return undefined;
  }
}

/** One GET of http://127.0.0.1:`port`/healthz on a fresh connection: its status code, or null (refused, reset, no answer within 1 s). */
export function healthzStatus(port) {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? null);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
    req.end();
  });
}

// What a tool's status says comes after its own bookkeeping and, for the peers, one run of
// their CLI (PM2's ~150 ms). This asks the child itself: a 200 once the killed child is gone
// (no /proc entry, or a zombie) comes from the new one. (A failed request in between is not
// required: PM2 had a new child answering before any request failed.) Every tool's restart
// is timed the same way, so the rows compare the restarts themselves.
/** Resolves with the ms from `since` (performance.now()) until a GET of /healthz on `port` answers 200 while `killedPid` is gone; polled every `everyMs`. */
export async function answeringAgain(port, killedPid, since, { everyMs = 1, timeoutMs = 60_000 } = {}) {
  for (;;) {
    const status = await healthzStatus(port);
    if (status === 200 && isGone(killedPid)) return performance.now() - since;
    if (performance.now() - since > timeoutMs) throw new Error(`port ${port} did not answer 200 again within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

/** True when `pid` no longer runs: no /proc entry, or a zombie. */
function isGone(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true;
  }
}

/** Polls `check` every `everyMs` until it returns a value; throws after `timeoutMs`. */
export async function pollUntil(check, { everyMs = 20, timeoutMs = 600_000, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Starts `<root>/bin/fleetd.js start` on a manifest in `dir` (NODE_OPTIONS as given; none when empty); its log goes to dir/fleetd.log. */
export function startFleetd(root, dir, manifest, nodeOptions = '') {
  const manifestPath = join(dir, 'fleets.json5');
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 2));
  const log = join(dir, 'fleetd.log');
  const out = [];
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  if (nodeOptions) env.NODE_OPTIONS = nodeOptions;
  const bin = join(root, 'bin', 'fleetd.js');
  const flags = [...shebangFlags(bin), ...(process.env.FLEETD_NODE_OPTIONS ? process.env.FLEETD_NODE_OPTIONS.split(' ') : [])];
  const child = spawn(process.execPath, [...flags, bin, 'start', '--manifest', manifestPath], {
    cwd: dir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (d) => out.push(d));
  child.stderr.on('data', (d) => out.push(d));
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  /** Throws (with fleetd's last output) once this fleetd has exited: a poll for its state must not wait out its timeout. */
  const alive = () => {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`fleetd exited (${child.exitCode ?? child.signalCode}): ${Buffer.concat(out).toString('utf8').trim().split('\n').slice(-3).join(' | ')}`);
  };
  return { child, socket: join(dir, 'fleetd.sock'), exited, alive, saveLog: () => writeFileSync(log, Buffer.concat(out)) };
}

/** Node flags of a `#!/usr/bin/env -S node FLAGS` first line (what the shipped `fleetd` runs with), [] for a plain one. */
export function shebangFlags(file) {
  const first = readFileSync(file, 'utf8').split('\n', 1)[0];
  const m = /^#!\/usr\/bin\/env -S node\s+(.*)$/.exec(first);
  return m ? m[1].trim().split(/\s+/) : [];
}

/** Median of numbers (null for none). */
export function median(xs) {
  const s = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return null;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Removes a work dir. */
export function removeDir(dir) {
  rmSync(dir, { recursive: true, force: true });
}

/** fleetd of the checkout `root` as a benchmark target (same interface as bench/peers.mjs). */
export function fleetdDriver(root, dir, n, { www, portBase, intervalMs, nodeOptions = '' }) {
  let f = null;
  let bulk = null;
  const fleetctl = (...args) =>
    new Promise((resolve, reject) => {
      const t0 = performance.now();
      execFile(process.execPath, [join(root, 'bin', 'fleetctl.js'), '--socket', f.socket, '--json', ...args], { maxBuffer: 64 << 20 }, (err, stdout) => {
        if (err && err.code !== 1) return reject(err);
        resolve({ ms: performance.now() - t0, stdout });
      });
    });
  // A fleetd without the bulk routes (main before issue 14) gets one request per agent, all at once.
  const hasBulk = async () => (bulk ??= (await socketCall(f.socket, 'GET', '/v1/stop')).status === 405);
  const perAgent = async (verb, body) => {
    const agents = (await agentsOf(f.socket)) ?? [];
    return Promise.all(agents.map((a) => socketCall(f.socket, 'POST', `/v1/agents/${a.fleet}/${a.agent}/${verb}`, body)));
  };
  return {
    name: 'fleetd',
    async start() {
      f = startFleetd(root, dir, overheadManifest(n, { www, portBase, intervalMs, root }), nodeOptions);
    },
    daemonPid: () => f?.child.pid ?? null,
    // the per-agent shims (fleetd since issue 10's merge): part of what fleetd costs per agent; none on an older fleetd
    // (a shim names itself `fleetd-shim FLEET/AGENT` once it runs); native shims are children of fleetd's shim spawner
    helperPids: () => {
      if (!f) return [];
      const markers = ['fleetd-shim ', join('shim', 'main.js')];
      const parents = [f.child.pid, ...childrenOf(f.child.pid, ['fleetd-shim-spawner'])];
      return parents.flatMap((pid) => childrenOf(pid, markers));
    },
    async agents() {
      return ((await agentsOf(f.socket)) ?? []).map((a) => ({ name: a.agent, pid: a.pid, port: a.port ?? null, running: a.state === 'running' }));
    },
    statusCommand: async () => (await fleetctl('status')).ms,
    statusRaw: async () => (await socketCall(f.socket, 'GET', '/v1/agents')).ms,
    stopHow: async () => ((await hasBulk()) ? '`fleetctl stop --all`' : `${n} parallel \`stop agent\` requests`),
    stopAll: async () => ((await hasBulk()) ? fleetctl('stop', '--all') : perAgent('stop', {})),
    startAll: async () => ((await hasBulk()) ? fleetctl('start', '--all') : perAgent('start', { wait: false })),
    async shutdown() {
      f.child.kill('SIGTERM');
      await f.exited;
    },
    async cleanup() {
      if (f && f.child.exitCode === null) {
        f.child.kill('SIGTERM');
        await Promise.race([f.exited, sleep(60_000)]);
        if (f.child.exitCode === null) f.child.kill('SIGKILL');
      }
      f?.saveLog();
    },
  };
}

/** NODE_OPTIONS of the shipped systemd unit (systemd/fleetd.service of `root`), '' when it sets none. */
export function unitNodeOptions(root) {
  try {
    const m = /^Environment=NODE_OPTIONS=(.*)$/m.exec(readFileSync(join(root, 'systemd', 'fleetd.service'), 'utf8'));
    return m ? m[1].replace(/^"|"$/g, '').trim() : '';
  } catch {
    return '';
  }
}
