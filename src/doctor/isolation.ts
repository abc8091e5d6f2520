// Doctor: what this host offers for isolating agents from each other, checked as it is now:
// cgroups (v2 unified or v1, whether fleetd's own cgroup(s) can hold agent cgroups: writable,
// with the cpu/memory/pids controllers), and running agents as their own users (fleetd is root or
// holds CAP_SETUID + CAP_SETGID, and setpriv is installed). Nothing is configured to need
// them yet, so a missing one is information with the way to get it, never attention. The
// probes are a list: a new isolation feature adds its own probe (and may raise its level
// when the manifest asks for it). When the cgroups branch (src/isolation/cgroup-detect.ts,
// detectCgroupHost) is on main, cgroupProbe should report what it detects instead.
import { constants } from 'node:fs';
import { access, readFile, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { DoctorCheck } from '../protocol/doctor-schemas.js';
import { SETPRIV_CANDIDATES } from '../cli/exec/run-as.js';
import { check, FLEETD_SCOPE } from './check.js';

/** What the probes read (real defaults; tests point them at prepared files). */
export interface IsolationEnv {
  /** Mount point of the cgroup hierarchy. */
  cgroupRoot: string;
  /** /proc/self (cgroup membership, capabilities). */
  procSelf: string;
  uid: number;
  /** Where setpriv may be. */
  setprivCandidates: readonly string[];
}

/** One isolation probe. */
export interface IsolationProbe {
  id: string;
  run(env: IsolationEnv): Promise<DoctorCheck>;
}

/** cgroup2's filesystem magic (statfs f_type). */
const CGROUP2_MAGIC = 0x63677270;

/** Controllers a per-agent cgroup needs. */
const WANTED_CONTROLLERS = ['cpu', 'memory', 'pids'];

/** fleetd's own cgroup path from /proc/self/cgroup ("0::/system.slice/fleetd.service"), v2 only. */
export function ownCgroupV2(text: string): string | undefined {
  const line = text.split('\n').find((l) => l.startsWith('0::'));
  return line ? line.slice(3).trim() || '/' : undefined;
}

/** fleetd's cgroup path in the v1 hierarchy carrying `controller` ("4:cpu,cpuacct:/x" -> "/x"). */
export function ownCgroupV1(text: string, controller: string): string | undefined {
  for (const line of text.split('\n')) {
    const [, controllers, path] = line.split(':');
    if (controllers !== undefined && path !== undefined && controllers.split(',').includes(controller)) return path.trim() || '/';
  }
  return undefined;
}

/** cgroups: v2 with a delegable own cgroup is "ok"; anything less is information saying what is missing. */
export const cgroupProbe: IsolationProbe = {
  id: 'isolation-cgroups',
  async run(env) {
    const title = 'cgroups';
    const fs = await statfs(env.cgroupRoot).catch(() => undefined);
    if (!fs) return check('info', this.id, FLEETD_SCOPE, title, `no cgroup hierarchy at ${env.cgroupRoot}; per-agent CPU and memory limits are not possible here`);
    const procCgroup = await readFile(join(env.procSelf, 'cgroup'), 'utf8').catch(() => '');
    if (Number(fs.type) !== CGROUP2_MAGIC) {
      // v1: one hierarchy per controller, fleetd's cgroup in each named by /proc/self/cgroup
      const found: string[] = [];
      const missing: string[] = [];
      for (const controller of WANTED_CONTROLLERS) {
        const path = ownCgroupV1(procCgroup, controller);
        const dir = path === undefined ? undefined : join(env.cgroupRoot, controller, path);
        const writable = dir !== undefined && (await access(dir, constants.W_OK).then(() => true, () => false));
        (writable ? found : missing).push(path === undefined ? `${controller} (not mounted)` : writable ? controller : `${controller} (${dir} not writable)`);
      }
      if (missing.length === 0) return check('ok', this.id, FLEETD_SCOPE, title, `cgroup v1 at ${env.cgroupRoot}; fleetd's ${found.join(', ')} cgroups are writable: per-agent cgroups can be made`);
      return check('info', this.id, FLEETD_SCOPE, title, `cgroup v1 at ${env.cgroupRoot}; usable: ${found.join(', ') || 'none'}; missing: ${missing.join(', ')}`, 'run fleetd as root, or on a cgroup v2 host with Delegate=yes in its unit');
    }
    const own = ownCgroupV2(procCgroup);
    if (!own) return check('info', this.id, FLEETD_SCOPE, title, `cgroup v2 at ${env.cgroupRoot}, but fleetd's own cgroup is unknown (/proc/self/cgroup)`);
    const dir = join(env.cgroupRoot, own);
    const writable = await access(dir, constants.W_OK).then(() => true, () => false);
    const available = (await readFile(join(dir, 'cgroup.controllers'), 'utf8').catch(() => '')).trim().split(/\s+/).filter(Boolean);
    const missing = WANTED_CONTROLLERS.filter((c) => !available.includes(c));
    if (!writable) {
      return check('info', this.id, FLEETD_SCOPE, title, `cgroup v2; fleetd's cgroup ${own} is not writable by uid ${env.uid}, so it cannot make a cgroup per agent`, 'run fleetd under systemd with Delegate=yes in its unit (or as root)');
    }
    if (missing.length > 0) {
      return check('info', this.id, FLEETD_SCOPE, title, `cgroup v2; fleetd's cgroup ${own} is writable but lacks the ${missing.join(', ')} controller(s) (has: ${available.join(' ') || 'none'})`, 'enable them in the parent\'s cgroup.subtree_control (systemd: Delegate=cpu memory pids)');
    }
    return check('ok', this.id, FLEETD_SCOPE, title, `cgroup v2; fleetd's cgroup ${own} is writable with ${WANTED_CONTROLLERS.join(', ')}: per-agent cgroups can be made`);
  },
};

/** Effective capabilities from /proc/self/status (CapEff as a bigint; 0 when unreadable). */
export function effectiveCaps(status: string): bigint {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

const CAP_SETGID = 6n;
const CAP_SETUID = 7n;

/** Users: root (or CAP_SETUID+CAP_SETGID) and setpriv let fleetd run each agent as its own user. */
export const usersProbe: IsolationProbe = {
  id: 'isolation-users',
  async run(env) {
    const title = 'per-agent users';
    const caps = effectiveCaps(await readFile(join(env.procSelf, 'status'), 'utf8').catch(() => ''));
    const canSwitch = env.uid === 0 || ((caps >> CAP_SETUID) & 1n) === 1n && ((caps >> CAP_SETGID) & 1n) === 1n;
    let setpriv: string | undefined;
    for (const candidate of env.setprivCandidates) {
      if (await access(candidate, constants.X_OK).then(() => true, () => false)) {
        setpriv = candidate;
        break;
      }
    }
    if (!canSwitch) {
      return check('info', this.id, FLEETD_SCOPE, title, `fleetd runs as uid ${env.uid} without CAP_SETUID/CAP_SETGID: every agent runs as this one user`, 'to give agents users of their own, run fleetd as root (or with those capabilities)');
    }
    if (!setpriv) return check('info', this.id, FLEETD_SCOPE, title, `fleetd may switch users but setpriv is not installed (looked in ${env.setprivCandidates.join(', ')})`, 'install util-linux');
    return check('ok', this.id, FLEETD_SCOPE, title, `fleetd ${env.uid === 0 ? 'runs as root' : 'holds CAP_SETUID and CAP_SETGID'} and ${setpriv} is there: agents can run as their own users`);
  },
};

/** The probes doctor runs, in order. */
export const ISOLATION_PROBES: readonly IsolationProbe[] = [cgroupProbe, usersProbe];

/** The real environment. */
export function isolationEnv(): IsolationEnv {
  return { cgroupRoot: '/sys/fs/cgroup', procSelf: '/proc/self', uid: process.getuid?.() ?? 0, setprivCandidates: SETPRIV_CANDIDATES };
}

/** Runs every probe; a probe that throws is reported, not fatal. */
export async function checkIsolation(env: IsolationEnv = isolationEnv(), probes: readonly IsolationProbe[] = ISOLATION_PROBES): Promise<DoctorCheck[]> {
  return Promise.all(probes.map((p) => p.run(env).catch((err: unknown) => check('info', p.id, FLEETD_SCOPE, p.id, `could not be checked: ${(err as Error).message}`))));
}
