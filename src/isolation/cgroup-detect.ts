// Which cgroup hierarchy fleetd can use for its agents, and why (or why none). Order:
//   1. cgroup v2 with the memory, cpu and pids controllers: fleetd's own cgroup when it is
//      delegated to it (systemd Delegate=yes; with DelegateSubgroup=supervisor fleetd runs
//      in <unit>/supervisor and the unit's cgroup is the root), or `cgroup.root`;
//   2. cgroup v1 controllers (memory, cpu, cpuacct, pids, freezer) when the host has them;
//   3. cgroup v2 without those controllers (membership, cgroup.kill, cgroup.freeze: no limits);
//   4. none: fleetd falls back to walking /proc, and says why.
// `cgroup.mode` "v1"/"v2" forces one hierarchy, "off" turns cgroups off. Reads /proc/self
// and access(2) only; creates nothing (cgroup-prepare.ts does).
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { cgroupDir, parseMountinfo, parseProcCgroup, resolveCgroupRoot, SUPERVISOR_LEAF, type CgroupMount } from './cgroup-parse.js';

/** v1 controllers fleetd joins: limits (memory, cpu, pids), CPU usage (cpuacct), kill-all (freezer). */
export const V1_CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'pids', 'freezer'] as const;
/** A member of V1_CONTROLLERS. */
export type V1Controller = (typeof V1_CONTROLLERS)[number];

/** v2 controllers fleetd enables for its agents (the rest of v2 needs none). */
export const V2_CONTROLLERS = ['memory', 'cpu', 'pids'] as const;

/** Manifest `cgroup` section. */
export interface CgroupConfig {
  mode: 'auto' | 'v1' | 'v2' | 'off';
  /** Cgroup path: absolute ("/fleetd") or relative to fleetd's own cgroup ("fleetd"). */
  root?: string | undefined;
}

/** One v1 hierarchy fleetd uses (co-mounted controllers such as cpu,cpuacct share one). */
export interface V1Hierarchy {
  /** Controllers of V1_CONTROLLERS this hierarchy carries. */
  controllers: V1Controller[];
  mountPoint: string;
  /** Cgroup path of fleetd's root in this hierarchy. */
  rootPath: string;
  /** Folder of that root. */
  rootDir: string;
}

/** The cgroup setup fleetd found. */
export type CgroupHost =
  | {
      kind: 'v2';
      /** `delegated`: fleetd's own cgroup; `configured`: manifest cgroup.root. */
      source: 'delegated' | 'configured';
      mountPoint: string;
      /** fleetd's own cgroup path when detected. */
      ownPath: string;
      rootPath: string;
      rootDir: string;
      /** Of V2_CONTROLLERS, those the root can hand to its agents. */
      controllers: string[];
    }
  | { kind: 'v1'; source: 'own' | 'configured'; hierarchies: V1Hierarchy[]; skipped: string[] }
  | { kind: 'none'; reason: string };

/** Files and permissions detection reads (real /proc and access(2) by default). */
export interface DetectDeps {
  readFile(path: string): string | undefined;
  /** True when this process may create entries in `dir` (nearest existing ancestor for a missing one). */
  canWrite(dir: string): boolean;
  uid: number;
}

/** The real DetectDeps. */
export const realDetectDeps: DetectDeps = {
  readFile: (path) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  },
  canWrite: (dir) => {
    let cur = dir;
    while (!existsSync(cur) && cur !== '/') cur = posix.dirname(cur);
    try {
      accessSync(cur, constants.W_OK);
      return true;
    } catch {
      return false;
    }
  },
  uid: process.getuid?.() ?? -1,
};

type Attempt<T> = { host: T; reason?: undefined } | { host?: undefined; reason: string };

/** Picks the cgroup setup for `config` (see the order above). */
export function detectCgroupHost(config: CgroupConfig, deps: DetectDeps = realDetectDeps): CgroupHost {
  if (config.mode === 'off') return { kind: 'none', reason: 'cgroup.mode is "off" in the manifest' };
  const mounts = parseMountinfo(deps.readFile('/proc/self/mountinfo') ?? '');
  const self = parseProcCgroup(deps.readFile('/proc/self/cgroup') ?? '');
  const reasons: string[] = [];
  const v2 = config.mode === 'v1' ? undefined : tryV2(config, mounts, self, deps);
  if (v2?.host && v2.host.controllers.length === V2_CONTROLLERS.length) return v2.host;
  if (config.mode === 'v2') return v2?.host ?? { kind: 'none', reason: v2?.reason ?? 'no cgroup2 hierarchy' };
  if (v2?.reason) reasons.push(v2.reason);
  else if (v2?.host) reasons.push(`cgroup v2 at ${v2.host.rootDir} lacks the ${missing(v2.host.controllers)} controller(s)`);
  const v1 = tryV1(config, mounts, self, deps);
  if (v1.host) return v1.host;
  reasons.push(v1.reason);
  if (v2?.host) return v2.host;
  return { kind: 'none', reason: reasons.join('; ') };
}

function missing(have: readonly string[]): string {
  return V2_CONTROLLERS.filter((c) => !have.includes(c)).join(', ');
}

function tryV2(config: CgroupConfig, mounts: CgroupMount[], self: ReturnType<typeof parseProcCgroup>, deps: DetectDeps): Attempt<Extract<CgroupHost, { kind: 'v2' }>> {
  const mount = mounts.find((m) => m.version === 2);
  if (!mount) return { reason: 'no cgroup2 filesystem is mounted' };
  const own = self.find((l) => l.hierarchy === 0)?.path;
  if (own === undefined) return { reason: 'fleetd is in no cgroup2 cgroup (/proc/self/cgroup has no "0::" line)' };
  let rootPath: string;
  let source: 'delegated' | 'configured';
  if (config.root !== undefined) {
    rootPath = resolveCgroupRoot(config.root, own);
    source = 'configured';
  } else if (own === '/') {
    return {
      reason: `fleetd runs in the root of the cgroup2 hierarchy at ${mount.mountPoint}, not in a subtree delegated to it; run it under systemd with Delegate=yes, or set cgroup.root in the manifest`,
    };
  } else {
    rootPath = posix.basename(own) === SUPERVISOR_LEAF ? posix.dirname(own) : own;
    source = 'delegated';
  }
  const rootDir = cgroupDir(mount, rootPath);
  if (rootDir === undefined) return { reason: `cgroup ${rootPath} is not visible under the cgroup2 mount ${mount.mountPoint} (mounted from ${mount.root})` };
  if (mount.readOnly) return { reason: `the cgroup2 filesystem at ${mount.mountPoint} is mounted read-only` };
  if (!deps.canWrite(rootDir)) {
    return {
      reason:
        source === 'delegated'
          ? `fleetd's cgroup ${rootDir} is not writable by uid ${deps.uid} (not delegated: set Delegate=yes in the systemd unit)`
          : `cgroup.root ${rootDir} is not writable by uid ${deps.uid}`,
    };
  }
  // An existing root lists what it can use; a new one will get what its parent enables.
  const listed = deps.readFile(posix.join(rootDir, 'cgroup.controllers')) ?? deps.readFile(posix.join(posix.dirname(rootDir), 'cgroup.subtree_control')) ?? '';
  const available = listed.trim().split(/\s+/);
  const controllers = V2_CONTROLLERS.filter((c) => available.includes(c));
  return { host: { kind: 'v2', source, mountPoint: mount.mountPoint, ownPath: own, rootPath, rootDir, controllers } };
}

function tryV1(config: CgroupConfig, mounts: CgroupMount[], self: ReturnType<typeof parseProcCgroup>, deps: DetectDeps): Attempt<Extract<CgroupHost, { kind: 'v1' }>> {
  const hierarchies: V1Hierarchy[] = [];
  const skipped: string[] = [];
  for (const mount of mounts) {
    if (mount.version !== 1) continue;
    const controllers = V1_CONTROLLERS.filter((c) => mount.controllers.includes(c));
    if (controllers.length === 0) continue;
    const label = mount.controllers.join(',');
    const own = self.find((l) => l.controllers.some((c) => controllers.includes(c as V1Controller)))?.path;
    if (own === undefined) {
      skipped.push(`${label}: fleetd is in no cgroup of it`);
      continue;
    }
    const rootPath =
      config.root !== undefined
        ? resolveCgroupRoot(config.root, own)
        : own === '/'
          ? '/openclaw-fleetd'
          : posix.basename(own) === SUPERVISOR_LEAF
            ? posix.dirname(own)
            : own;
    const rootDir = cgroupDir(mount, rootPath);
    if (rootDir === undefined) skipped.push(`${label}: cgroup ${rootPath} is not visible under ${mount.mountPoint}`);
    else if (mount.readOnly) skipped.push(`${label}: ${mount.mountPoint} is mounted read-only`);
    else if (!deps.canWrite(rootDir)) skipped.push(`${label}: ${rootDir} is not writable by uid ${deps.uid}`);
    else hierarchies.push({ controllers, mountPoint: mount.mountPoint, rootPath, rootDir });
  }
  if (hierarchies.length === 0) {
    return { reason: skipped.length === 0 ? 'no cgroup v1 controller (memory, cpu, cpuacct, pids, freezer) is mounted' : `no usable cgroup v1 controller (${skipped.join('; ')})` };
  }
  return { host: { kind: 'v1', source: config.root !== undefined ? 'configured' : 'own', hierarchies, skipped } };
}

/** The isolation mode in words, for the start-up log, `fleetctl status --json` and the README. */
export function describeCgroupHost(host: CgroupHost): string {
  if (host.kind === 'none') return `no cgroup: tree walk fallback because ${host.reason}`;
  if (host.kind === 'v2') {
    const where = `${posix.join(host.rootDir, 'agents')} (${host.source === 'delegated' ? 'delegated subtree' : 'cgroup.root'})`;
    if (host.controllers.length === 0) return `cgroup v2 without controllers (membership, cgroup.kill and freeze; no limits) under ${where}`;
    const lacking = missing(host.controllers);
    return `cgroup v2 (${host.controllers.join(', ')}${lacking ? `; no ${lacking}` : ''}) under ${where}`;
  }
  const controllers = host.hierarchies.flatMap((h) => h.controllers);
  const paths = [...new Set(host.hierarchies.map((h) => h.rootPath))];
  const where =
    paths.length === 1
      ? `${commonMount(host.hierarchies)}${posix.join(paths[0]!, 'agents')}`
      : host.hierarchies.map((h) => posix.join(h.rootDir, 'agents')).join(', ');
  const lacking = V1_CONTROLLERS.filter((c) => !controllers.includes(c));
  return `cgroup v1 (${controllers.join(', ')}${lacking.length ? `; no ${lacking.join(', ')}` : ''}) under ${where}`;
}

/** "/sys/fs/cgroup/{memory,cpu,pids}" for mounts that share a parent folder. */
function commonMount(hierarchies: readonly V1Hierarchy[]): string {
  const parents = new Set(hierarchies.map((h) => posix.dirname(h.mountPoint)));
  if (hierarchies.length === 1 || parents.size !== 1) return hierarchies.length === 1 ? hierarchies[0]!.mountPoint : `{${hierarchies.map((h) => h.mountPoint).join(',')}}`;
  return `${[...parents][0]}/{${hierarchies.map((h) => posix.basename(h.mountPoint)).join(',')}}`;
}
