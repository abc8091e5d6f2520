// Test helpers for the isolation layer: a throw-away cgroup root per test on this host's
// v1 or v2 hierarchy (named fleetd-test-<random>, relative to the test process's own
// cgroup, so nothing lands outside the cgroup the test already runs in), processes
// spawned through the launch chain, and teardown that kills and removes everything.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { listAgentCgroups } from '../../src/isolation/cgroup-agent.js';
import { detectCgroupHost, type CgroupHost } from '../../src/isolation/cgroup-detect.js';
import { removeCgroupTree } from '../../src/isolation/cgroup-files.js';
import { prepareCgroupHost } from '../../src/isolation/cgroup-prepare.js';
import { waitCgroupEmpty } from '../../src/isolation/cgroup-stop.js';
import { waitFor } from '../../src/util/wait-for.js';

/** True when this process may create cgroups (root). */
export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Why cgroup tests cannot run here, or undefined when they can. */
export function cgroupSkipReason(mode: 'v1' | 'v2'): string | undefined {
  if (!isRoot()) return 'needs root to create cgroups';
  const host = detectCgroupHost({ mode, root: 'fleetd-probe' });
  if (host.kind === 'none') return `no cgroup ${mode} here: ${host.reason}`;
  if (host.kind !== (mode === 'v1' ? 'v1' : 'v2')) return `cgroup ${mode} not available`;
  return undefined;
}

/** A prepared throw-away root; `cleanup` kills whatever is left in it and removes it. */
export interface TestCgroups {
  host: CgroupHost;
  cleanup(): Promise<void>;
}

/** Detects and prepares a fresh `fleetd-test-<random>` root on `mode`. */
export function makeTestCgroups(mode: 'v1' | 'v2', options: { controllers?: string[] } = {}): TestCgroups {
  const root = `fleetd-test-${randomBytes(4).toString('hex')}`;
  const detected = detectCgroupHost({ mode, root });
  const { host } = prepareCgroupHost(detected, options.controllers ? { controllers: options.controllers } : {});
  const cleanup = async () => {
    for (const found of listAgentCgroups(host)) {
      await found.cgroup.killAll();
      await waitCgroupEmpty(found.cgroup, 3000);
    }
    const dirs = host.kind === 'v2' ? [host.rootDir] : host.kind === 'v1' ? host.hierarchies.map((h) => h.rootDir) : [];
    // a cgroup whose last process just died can refuse rmdir (EBUSY) for a moment
    await waitFor(
      () => {
        for (const dir of dirs) removeCgroupTree(dir);
        return true;
      },
      { timeoutMs: 5000, what: `removal of ${dirs.join(', ')}` },
    );
  };
  return { host, cleanup };
}

/** Spawns `argv` detached (own session, no stdio), with exactly `env`. */
export function spawnArgv(argv: readonly string[], env: Record<string, string>, cwd = '/'): ChildProcess {
  const [file, ...args] = argv;
  if (!file) throw new Error('empty argv');
  const child = spawn(file, args, { env, cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  return child;
}

/** Collects a child's stdout+stderr as text (for assertions and failure messages). */
export function collectOutput(child: ChildProcess): { text(): string } {
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  return { text: () => out };
}

/** Cgroup paths of `pid` from /proc/<pid>/cgroup (hierarchy line -> path); undefined when gone. */
export function procCgroupLines(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
  } catch {
    return undefined;
  }
}

/** Environment of a process as NAME=VALUE strings; undefined when gone. */
export function procEnviron(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
}

/** A base PATH for fixtures (node's own folder first). */
export function fixturePath(): string {
  return `${process.execPath.replace(/\/[^/]+$/, '')}:/usr/local/bin:/usr/bin:/bin`;
}
