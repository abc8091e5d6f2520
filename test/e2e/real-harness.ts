// Helpers for the suites and benchmarks that run REAL OpenClaw gateways under fleetd: the
// manifest, process trees read from /proc, listening sockets (ss), environments, open
// files, memory (smaps_rollup) and plain HTTP to a gateway on loopback.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { defaultRuntimeCacheDir } from '../../src/runtime/cache-dir.js';
import { descendantsOf, groupMembers, isSameProcess, listProcesses, type ProcRef } from '../../src/supervise/proc.js';
import { waitFor } from '../../src/util/wait-for.js';
import { cleanup, stopFleetd, type Fleetd } from './harness.js';

/** The OpenClaw version the real suites run. */
export const OPENCLAW_VERSION = '2026.9.6';

/** Generous first start-up: on a fresh machine fleetd installs the ~840 MB runtime first. */
export const FIRST_START_TIMEOUT_MS = 6 * 60_000;

/** A random port base with room for `blocks` blocks of 100, away from the fake-gateway tests' range. */
export function randomPortBase(blocks = 10): number {
  const slots = Math.floor((32_000 - 22_000 - blocks * 100) / 100); // below the ephemeral range (32768+)
  return 22_000 + Math.floor(Math.random() * slots) * 100;
}

/** A manifest running real OpenClaw gateways from the shared runtime cache, with timings for real boots. */
export function realManifest(fleets: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: 1,
    stateDir: './state',
    socket: './fleetd.sock',
    runtimesDir: defaultRuntimeCacheDir(),
    ports: { base: randomPortBase(), blockSize: 100, max: 65000 },
    gateway: { openclaw: OPENCLAW_VERSION, stopTimeoutMs: 30_000 },
    health: { intervalMs: 2000, timeoutMs: 1500, failureThreshold: 3, startupTimeoutMs: 120_000 },
    fleets,
    ...extra,
  };
}

/** Key of a ProcRef in a Map (pid + start time: a reused pid is another process). */
export function refKey(ref: ProcRef): string {
  return `${ref.pid}@${ref.startTime}`;
}

/**
 * Every living process of one gateway's tree: the root, its descendants (whatever their
 * group or session: OpenClaw's spawn broker has its own), and the members of every process
 * group one of them leads or sits in.
 */
export function gatewayTree(rootPid: number): ProcRef[] {
  const table = listProcesses();
  const root = table.find((p) => p.pid === rootPid && p.state !== 'Z');
  if (!root) return [];
  const members = new Map<number, ProcRef>([[root.pid, { pid: root.pid, startTime: root.startTime }]]);
  const groups = new Set<number>([root.pgid]);
  for (const p of descendantsOf(rootPid, table)) {
    members.set(p.pid, { pid: p.pid, startTime: p.startTime });
    groups.add(p.pgid);
  }
  for (const g of groups) {
    if (g <= 1) continue;
    for (const p of groupMembers(g, table)) members.set(p.pid, { pid: p.pid, startTime: p.startTime });
  }
  return [...members.values()];
}

/** Adds the current tree of each root to `seen`; returns the refs found now. */
export function trackTrees(seen: Map<string, ProcRef>, rootPids: Array<number | null | undefined>): ProcRef[] {
  const found: ProcRef[] = [];
  for (const pid of rootPids) {
    if (!pid) continue;
    for (const ref of gatewayTree(pid)) {
      seen.set(refKey(ref), ref);
      found.push(ref);
    }
  }
  return found;
}

/** The refs of `refs` that are still the same living process. */
export function livingRefs(refs: Iterable<ProcRef>): ProcRef[] {
  return [...refs].filter((r) => isSameProcess(r));
}

/** Waits until none of `refs` is alive (same pid and start time). */
export async function waitRefsDead(refs: Iterable<ProcRef>, timeoutMs = 30_000): Promise<void> {
  const list = [...refs];
  await waitFor(() => livingRefs(list).length === 0, {
    timeoutMs,
    intervalMs: 50,
    what: `processes ${list.map((r) => r.pid).join(',')} to exit (alive: ${livingRefs(list).map((r) => r.pid).join(',')})`,
  });
}

/** One listening TCP socket as `ss -ltnp` shows it. */
export interface ListenSocket {
  /** Local address without brackets: 127.0.0.1, ::1, 0.0.0.0, ::, ... */
  address: string;
  port: number;
  pids: number[];
  line: string;
}

/** True when `ss` (iproute2) is on PATH. */
export function hasSs(): boolean {
  try {
    execFileSync('which', ['ss'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Parses `ss -ltnpH` output. */
export function parseSs(text: string): ListenSocket[] {
  const out: ListenSocket[] = [];
  for (const line of text.split('\n')) {
    const cols = line.trim().split(/\s+/);
    // State Recv-Q Send-Q Local:Port Peer:Port Process
    if (cols.length < 5 || cols[0] !== 'LISTEN') continue;
    const local = cols[3] as string;
    const colon = local.lastIndexOf(':');
    let address = local.slice(0, colon).replace(/^\[|\]$/g, '');
    // ss prints an interface scope as addr%iface
    address = address.replace(/%.*$/, '');
    const port = Number(local.slice(colon + 1));
    const pids = [...line.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]));
    out.push({ address, port, pids, line: line.trim() });
  }
  return out;
}

/** Every listening TCP socket with its owning pids (`ss -ltnpH`). */
export function listeningSockets(): ListenSocket[] {
  return parseSs(execFileSync('ss', ['-ltnpH'], { encoding: 'utf8' }));
}

/** True for 127.0.0.0/8 and ::1. */
export function isLoopback(address: string): boolean {
  return address === '::1' || /^127\.\d+\.\d+\.\d+$/.test(address);
}

/** The environment of a running process (/proc/<pid>/environ). */
export function readEnviron(pid: number): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
    if (!entry) continue;
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

/** Absolute paths of the files a process holds open (sockets, pipes and anon inodes left out). */
export function openFiles(pid: number): string[] {
  const out: string[] = [];
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return out;
  }
  for (const fd of fds) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (target.startsWith('/')) out.push(target.replace(/ \(deleted\)$/, ''));
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/** Pids of living processes whose environment or command line contains `needle`. */
export function processesMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const p of listProcesses()) {
    if (p.state === 'Z' || p.pid === process.pid) continue;
    for (const file of ['environ', 'cmdline']) {
      try {
        if (readFileSync(`/proc/${p.pid}/${file}`, 'utf8').includes(needle)) {
          out.push(p.pid);
          break;
        }
      } catch {
        // gone, or not ours to read
      }
    }
  }
  return out;
}

/** Size and mtime of one file in a snapshot. */
export interface FileMark {
  size: number;
  mtimeMs: number;
}

/** Every regular file under `dir` (recursive) with size and mtime; empty when `dir` does not exist. */
export async function snapshotFiles(dir: string): Promise<Map<string, FileMark>> {
  const out = new Map<string, FileMark>();
  const walk = async (d: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(d);
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(d, name);
      const st = await lstat(path).catch(() => undefined);
      if (!st) continue;
      if (st.isDirectory()) await walk(path);
      else if (st.isFile()) out.set(path, { size: st.size, mtimeMs: st.mtimeMs });
    }
  };
  await walk(dir);
  return out;
}

/** Files of `after` that are new or changed since `before`. */
export function changedFiles(before: Map<string, FileMark>, after: Map<string, FileMark>): string[] {
  return [...after].filter(([path, mark]) => {
    const old = before.get(path);
    return !old || old.size !== mark.size || old.mtimeMs !== mark.mtimeMs;
  }).map(([path]) => path);
}

/** Memory of one process from /proc/<pid>/smaps_rollup, bytes (0 when gone). */
export function smapsRollup(pid: number): { rss: number; pss: number } {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
    return { rss: kb('Rss'), pss: kb('Pss') };
  } catch {
    return { rss: 0, pss: 0 };
  }
}

/** RSS and PSS summed over a gateway's whole tree, bytes. */
export function treeMemory(rootPid: number): { rss: number; pss: number; processes: number } {
  let rss = 0;
  let pss = 0;
  const tree = gatewayTree(rootPid);
  for (const ref of tree) {
    const m = smapsRollup(ref.pid);
    rss += m.rss;
    pss += m.pss;
  }
  return { rss, pss, processes: tree.length };
}

/** An HTTP answer. */
export interface HttpResult {
  status: number;
  body: string;
}

/** One HTTP request on a fresh connection; rejects on network errors and after `timeoutMs`. */
export function httpRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', agent: false, headers: options.headers, timeout: options.timeoutMs ?? 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${options.timeoutMs ?? 10_000} ms`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** POST /tools/invoke with a minimal body (the docs' example), with or without a bearer token. */
export function invokeTool(port: number, token: string | undefined, host = '127.0.0.1'): Promise<HttpResult> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
  const body = JSON.stringify({ tool: 'sessions_list', action: 'json', args: {} });
  return httpRequest(`http://${host.includes(':') ? `[${host}]` : host}:${port}/tools/invoke`, { method: 'POST', headers, body });
}

/** The end of a real-gateway suite: fleetd stopped (SIGTERM), every gateway process seen gone (SIGKILL as the last resort, by pid + start time), the dir removed. */
export async function endRealSuite(f: Fleetd | undefined, seen: Iterable<ProcRef>, dir: string): Promise<void> {
  if (f && f.child.exitCode === null && f.child.signalCode === null) await stopFleetd(f);
  const refs = [...seen];
  await waitRefsDead(refs).catch(() => {
    for (const ref of livingRefs(refs)) {
      try {
        process.kill(ref.pid, 'SIGKILL'); // last resort, our own gateway processes only (pid + start time)
      } catch {
        // gone meanwhile
      }
    }
  });
  if (dir) await cleanup(dir);
}
