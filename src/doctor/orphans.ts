// Doctor: processes of an agent that are not its current gateway tree. Every process a
// gateway starts inherits its OPENCLAW_CONFIG_PATH, which names the agent's home under
// `<stateDir>/fleets/<fleet>/<agent>/`; so a /proc scan finds them wherever they were
// re-parented. One outside the agent's current tree is:
//   an orphan   when its marked ancestry ends at init (pid 1, or a subreaper such as
//               `systemd --user`), at a dead parent, or at fleetd
//               itself (a gateway fleetd no longer tracks): left by a crash or a killed fleetd;
//   a session   when a live, unmarked process started it (`fleetctl exec`/`openclaw` as the
//               agent, a shell): reported for information only.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { DoctorCheck } from '../protocol/doctor-schemas.js';
import { AGENT_MARKER_ENV, descendantsOf, listProcesses, type ProcStat } from '../supervise/proc.js';
import { check, FLEETD_SCOPE } from './check.js';

/** A process carrying an agent's marker. */
export interface MarkedProcess {
  pid: number;
  ppid: number;
  comm: string;
  /** The agent whose home the marker names (`fleet/agent`). */
  address: string;
}

/** Where to look (real defaults: /proc, this process). */
export interface OrphanScanDeps {
  procRoot: string;
  selfPid: number;
  table: () => ProcStat[];
}

/** Processes that adopt orphans (subreapers) besides pid 1. */
const ADOPTERS = new Set(['systemd', 'init', 'tini', 'dumb-init', 'docker-init']);

const DEFAULTS: OrphanScanDeps = { procRoot: '/proc', selfPid: process.pid, table: () => listProcesses() };

/** The agent a config path belongs to, when it is `<stateDir>/fleets/<fleet>/<agent>/.openclaw/openclaw.json`. */
export function addressOfConfigPath(stateDir: string, configPath: string): string | undefined {
  const rel = relative(join(stateDir, 'fleets'), configPath).split(sep);
  if (rel.length !== 4 || rel[2] !== '.openclaw' || rel[3] !== 'openclaw.json' || rel[0] === '..') return undefined;
  return `${rel[0]}/${rel[1]}`;
}

/** Every live process whose environment names an agent home under `stateDir`. */
export function markedProcesses(stateDir: string, deps: Partial<OrphanScanDeps> = {}): MarkedProcess[] {
  const d = { ...DEFAULTS, ...deps };
  const byPid = new Map(d.table().map((p) => [p.pid, p]));
  const out: MarkedProcess[] = [];
  for (const entry of readdirSync(d.procRoot)) {
    if (!/^\d+$/.test(entry) || Number(entry) === d.selfPid) continue;
    let environ: string;
    try {
      environ = readFileSync(join(d.procRoot, entry, 'environ'), 'utf8');
    } catch {
      continue; // gone, or not ours to read
    }
    const prefix = `${AGENT_MARKER_ENV}=`;
    const marker = environ.split('\0').find((kv) => kv.startsWith(prefix));
    const address = marker ? addressOfConfigPath(stateDir, marker.slice(prefix.length)) : undefined;
    const stat = byPid.get(Number(entry));
    if (address && stat && stat.state !== 'Z') out.push({ pid: stat.pid, ppid: stat.ppid, comm: stat.comm, address });
  }
  return out;
}

/** The current gateway tree of each agent: its pid and every descendant. */
export function currentTrees(pids: ReadonlyMap<string, number>, table: ProcStat[] = listProcesses()): Map<string, Set<number>> {
  const out = new Map<string, Set<number>>();
  for (const [address, pid] of pids) out.set(address, new Set([pid, ...descendantsOf(pid, table).map((p) => p.pid)]));
  return out;
}

/** Orphans and sessions of the agents (or of `only`): one check per agent that has any, else one ok check. */
export function checkOrphans(input: {
  marked: readonly MarkedProcess[];
  trees: ReadonlyMap<string, ReadonlySet<number>>;
  /** Agents fleetd is stopping now: their leftovers are being dealt with. */
  stopping: ReadonlySet<string>;
  fleetdPid: number;
  isAlive: (pid: number) => boolean;
  /** Command name of a pid ('' when unknown): init-like adopters (systemd --user, init) count as pid 1. */
  commOf: (pid: number) => string;
  only?: string;
}): DoctorCheck[] {
  const byPid = new Map(input.marked.map((p) => [p.pid, p]));
  const stray = input.marked.filter((p) => (input.only === undefined || p.address === input.only) && !input.trees.get(p.address)?.has(p.pid));
  const orphans = new Map<string, MarkedProcess[]>();
  const sessions = new Map<string, MarkedProcess[]>();
  for (const p of stray) {
    // climb while the parent carries the same agent's marker: the root decides
    let root = p;
    for (let guard = 0; guard < 64; guard++) {
      const parent = byPid.get(root.ppid);
      if (!parent || parent.address !== p.address) break;
      root = parent;
    }
    const adopter = ADOPTERS.has(input.commOf(root.ppid));
    const orphan = root.ppid <= 1 || adopter || root.ppid === input.fleetdPid || !input.isAlive(root.ppid);
    const bucket = orphan ? orphans : sessions;
    bucket.set(p.address, [...(bucket.get(p.address) ?? []), p]);
  }
  const checks: DoctorCheck[] = [];
  const list = (ps: MarkedProcess[]) => ps.map((p) => `${p.pid} (${p.comm})`).join(', ');
  for (const [address, ps] of orphans) {
    const pids = ps.map((p) => p.pid).join(' ');
    if (input.stopping.has(address)) {
      checks.push(check('info', 'orphans', address, 'leftover processes', `${ps.length} process(es) of an exited gateway that fleetd is stopping now: ${list(ps)}`));
    } else {
      checks.push(
        check('fail', 'orphans', address, 'leftover processes', `${ps.length} process(es) carry this agent's environment but are not its current gateway tree (orphaned by a crash or a killed fleetd): ${list(ps)}`, `kill -TERM ${pids} (then kill -KILL ${pids} if they stay)`),
      );
    }
  }
  for (const [address, ps] of sessions) {
    checks.push(check('info', 'orphans', address, 'sessions', `${ps.length} process(es) run as this agent outside its gateway, started by a live process (fleetctl exec/openclaw?): ${list(ps)}`));
  }
  if (checks.length === 0) checks.push(check('ok', 'orphans', input.only ?? FLEETD_SCOPE, 'leftover processes', 'no process of any agent outside its gateway tree'));
  return checks;
}
