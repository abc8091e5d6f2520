// Parsers and names of the cgroup layer (pure): /proc/<pid>/cgroup, /proc/self/mountinfo,
// the flat "key value" files (memory.events, cpu.stat, pids.events, oom_control), limit
// files ("max", v1's huge "unlimited"), and the cgroup name of an agent.
import { posix } from 'node:path';
import { isValidId } from '../manifest/ids.js';

/** One line of /proc/<pid>/cgroup: `hierarchy-id:controllers:path`. */
export interface ProcCgroupLine {
  hierarchy: number;
  /** v1 controllers of that hierarchy (`["cpu","cpuacct"]`, `["name=systemd"]`); [] for v2. */
  controllers: string[];
  /** Cgroup path from the hierarchy's (namespace) root, starting with "/". */
  path: string;
}

/** Parses /proc/<pid>/cgroup (lines that do not parse are skipped). */
export function parseProcCgroup(text: string): ProcCgroupLine[] {
  const out: ProcCgroupLine[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(\/.*)$/.exec(line.trim());
    if (!m) continue;
    out.push({ hierarchy: Number(m[1]), controllers: m[2] === '' ? [] : m[2]!.split(','), path: m[3]! });
  }
  return out;
}

/** A cgroup filesystem mount from /proc/self/mountinfo. */
export interface CgroupMount {
  version: 1 | 2;
  /** Where it is mounted (octal escapes decoded). */
  mountPoint: string;
  /** Cgroup path of the hierarchy that is visible at mountPoint (field 4; "/" normally). */
  root: string;
  /** v1: controllers from the super options (`memory`, `cpu`, `cpuacct`, ...); v2: []. */
  controllers: string[];
  readOnly: boolean;
}

/** "\040" -> " " (mountinfo escapes space, tab, newline and backslash). */
function unescapeMount(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

const V1_OPTIONS_NOT_CONTROLLERS = new Set(['rw', 'ro', 'noprefix', 'clone_children', 'xattr', 'cpuset_v2_mode', 'favordynmods']);

/** The cgroup and cgroup2 mounts of a mountinfo text. */
export function parseMountinfo(text: string): CgroupMount[] {
  const out: CgroupMount[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    const fstype = right[0];
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    const root = left[3];
    const mountPoint = left[4];
    const mountOptions = (left[5] ?? '').split(',');
    const superOptions = (right[2] ?? '').split(',');
    if (root === undefined || mountPoint === undefined) continue;
    const readOnly = mountOptions.includes('ro') || superOptions.includes('ro');
    const controllers =
      fstype === 'cgroup' ? superOptions.filter((o) => !V1_OPTIONS_NOT_CONTROLLERS.has(o) && !o.startsWith('release_agent=') && !o.includes('=')) : [];
    out.push({ version: fstype === 'cgroup' ? 1 : 2, mountPoint: unescapeMount(mountPoint), root: unescapeMount(root), controllers, readOnly });
  }
  return out;
}

/** The folder of cgroup `path` in `mount`, or undefined when that cgroup is not visible there. */
export function cgroupDir(mount: Pick<CgroupMount, 'mountPoint' | 'root'>, path: string): string | undefined {
  const rel = posix.relative(mount.root, path);
  if (rel.startsWith('..') || posix.isAbsolute(rel)) return undefined;
  return rel === '' ? mount.mountPoint : posix.join(mount.mountPoint, rel);
}

/** Problem with a manifest `cgroup.root` value, or undefined when it is a usable cgroup path. */
export function cgroupRootProblem(root: string): string | undefined {
  if (root === '' || root === '/') return 'must name a cgroup below the hierarchy root, such as "/fleetd" or "fleetd"';
  if (root.endsWith('/') || root.includes('//')) return 'must not end with "/" or contain "//"';
  const parts = root.replace(/^\//, '').split('/');
  for (const part of parts) {
    if (part === '.' || part === '..') return 'must not contain "." or ".." components';
    if (!/^[A-Za-z0-9_@:+-][A-Za-z0-9._@:+-]*$/.test(part)) return `component ${JSON.stringify(part)} may only use letters, digits and . _ @ : + -`;
    // a cgroup folder may not be named like an interface file (memory.max, cgroup.procs, ...)
    if (/^(cgroup|memory|cpu|cpuacct|cpuset|pids|io|blkio|freezer|hugetlb|rdma|misc|devices|net_cls|net_prio|perf_event)\./.test(part)) {
      return `component ${JSON.stringify(part)} looks like a cgroup interface file`;
    }
  }
  return undefined;
}

/** Resolves a manifest `cgroup.root` against fleetd's own cgroup path: absolute as is, relative below it. */
export function resolveCgroupRoot(root: string, own: string): string {
  return root.startsWith('/') ? root : posix.join(own, root);
}

/** Name of the leaf fleetd moves itself into (and systemd's DelegateSubgroup= should name). */
export const SUPERVISOR_LEAF = 'supervisor';

/** Folder under the root holding one cgroup per agent. */
export const AGENTS_DIR = 'agents';

/** Cgroup name of one agent: `<fleet>@<agent>` ("@" is in neither id alphabet, so it is unambiguous). */
export function agentCgroupName(fleet: string, agent: string): string {
  if (!isValidId(fleet) || !isValidId(agent)) throw new Error(`internal: invalid agent ids ${JSON.stringify(fleet)} / ${JSON.stringify(agent)}`);
  return `${fleet}@${agent}`;
}

/** fleet and agent of an agent cgroup name; undefined for anything else (fleetd leaves it alone). */
export function parseAgentCgroupName(name: string): { fleet: string; agent: string } | undefined {
  const parts = name.split('@');
  if (parts.length !== 2 || !isValidId(parts[0]!) || !isValidId(parts[1]!)) return undefined;
  return { fleet: parts[0]!, agent: parts[1]! };
}

/** Parses "key value" lines (memory.events, cpu.stat, pids.events, memory.oom_control) into numbers. */
export function parseKeyedCounters(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+(-?\d+)$/.exec(line.trim());
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

// v1 reports "no limit" as PAGE_COUNTER_MAX pages in bytes (9223372036854771712 on 4K
// pages); anything at or above 2^62 is treated as unlimited.
const V1_UNLIMITED = 2 ** 62;

/** A limit or counter file's value: bytes/count, or null for "max"/unlimited; undefined when unreadable. */
export function parseLimitValue(text: string | undefined): number | null | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  if (t === 'max' || t === '-1') return null;
  if (!/^\d+$/.test(t)) return undefined;
  const n = Number(t);
  return n >= V1_UNLIMITED ? null : n;
}

/** Parses cpu.max ("150000 100000" / "max 100000") into cores (null: no limit). */
export function parseCpuMax(text: string | undefined): number | null | undefined {
  if (text === undefined) return undefined;
  const [quota, period] = text.trim().split(/\s+/);
  if (quota === 'max') return null;
  const q = Number(quota);
  const p = Number(period);
  return Number.isFinite(q) && Number.isFinite(p) && p > 0 ? q / p : undefined;
}

/** Pids of a cgroup.procs text, unique and sorted (v1 may list a pid twice). */
export function parsePids(text: string): number[] {
  const set = new Set<number>();
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (/^\d+$/.test(t)) set.add(Number(t));
  }
  return [...set].sort((a, b) => a - b);
}
