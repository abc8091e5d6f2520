// Makes fleetd's cgroup root ready for agents, once at start-up:
//   v2: <root>/agents with the memory/cpu/pids controllers enabled below it. The kernel's
//       no-internal-process rule forbids enabling controllers in a cgroup's subtree_control
//       while processes sit in that cgroup itself, so when fleetd lives in the root (systemd
//       Delegate=yes without DelegateSubgroup=) it first moves itself, and every other
//       process of the root (they are its own: the unit's), into <root>/supervisor.
//       Processes in a configured root that are not fleetd's stop the preparation: fleetd
//       does not move strangers around.
//   v1: <root>/agents in each hierarchy (v1 has no such rule, nothing moves).
import { join } from 'node:path';
import { FleetError } from '../errors.js';
import type { CgroupHost } from './cgroup-detect.js';
import { V2_CONTROLLERS } from './cgroup-detect.js';
import { makeCgroupDir, readCgroupFile, writeCgroupFile } from './cgroup-files.js';
import { AGENTS_DIR, parsePids, SUPERVISOR_LEAF } from './cgroup-parse.js';

/** What prepareCgroupHost did. */
export interface PreparedCgroups {
  /** The host with `controllers` as actually enabled for agents (v2). */
  host: CgroupHost;
  /** Pids moved into <root>/supervisor (v2, fleetd living in its root). */
  moved: number[];
}

/** Options of prepareCgroupHost (defaults: this process, V2_CONTROLLERS). */
export interface PrepareOptions {
  /** fleetd's pid (the process allowed to be in the root). */
  pid?: number;
  /** v2 controllers to enable for agents. */
  controllers?: readonly string[];
}

/** Creates the agents folder(s) and, on v2, enables the controllers for them; see the header. */
export function prepareCgroupHost(host: CgroupHost, options: PrepareOptions = {}): PreparedCgroups {
  if (host.kind === 'none') return { host, moved: [] };
  if (host.kind === 'v1') {
    for (const h of host.hierarchies) makeCgroupDir(join(h.rootDir, AGENTS_DIR));
    return { host, moved: [] };
  }
  const self = options.pid ?? process.pid;
  makeCgroupDir(host.rootDir);
  const available = words(readCgroupFile(join(host.rootDir, 'cgroup.controllers')));
  const want = options.controllers ?? V2_CONTROLLERS;
  const wanted = want.filter((c) => available.includes(c));
  const moved: number[] = [];
  if (wanted.some((c) => !words(readCgroupFile(join(host.rootDir, 'cgroup.subtree_control'))).includes(c))) {
    const inRoot = parsePids(readCgroupFile(join(host.rootDir, 'cgroup.procs')) ?? '');
    if (inRoot.length > 0) {
      if (!inRoot.includes(self)) {
        throw new FleetError(
          'PROVISION_FAILED',
          `cgroup root ${host.rootDir} holds processes that are not fleetd's (${inRoot.join(', ')}), so controllers cannot be enabled below it (no-internal-process rule); set cgroup.root to an empty cgroup`,
        );
      }
      const leaf = join(host.rootDir, SUPERVISOR_LEAF);
      makeCgroupDir(leaf);
      for (const pid of inRoot) {
        try {
          writeCgroupFile(join(leaf, 'cgroup.procs'), String(pid));
          moved.push(pid);
        } catch (err) {
          // a process that exited meanwhile is fine; fleetd itself must move
          if (pid === self) throw err;
        }
      }
    }
    enable(host.rootDir, wanted);
  }
  const agentsDir = join(host.rootDir, AGENTS_DIR);
  makeCgroupDir(agentsDir);
  enable(agentsDir, wanted);
  const controllers = words(readCgroupFile(join(agentsDir, 'cgroup.subtree_control'))).filter((c) => want.includes(c));
  return { host: { ...host, controllers }, moved };
}

/** Enables each controller in `dir`'s subtree_control (one write each, so an error names it). */
function enable(dir: string, controllers: readonly string[]): void {
  const current = words(readCgroupFile(join(dir, 'cgroup.subtree_control')));
  for (const c of controllers) if (!current.includes(c)) writeCgroupFile(join(dir, 'cgroup.subtree_control'), `+${c}`);
}

function words(text: string | undefined): string[] {
  return (text ?? '').trim().split(/\s+/).filter(Boolean);
}
