// Doctor checks of the installation as a whole: free disk where fleetd keeps state and
// runtimes, fleetd's and Node's versions, every runtime (installed or pinned) intact, and the
// native parts the build makes (the per-agent shim, the memory addon).
import { constants } from 'node:fs';
import { access, readFile, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { DoctorCheck } from '../protocol/doctor-schemas.js';
import { listRuntimes } from '../runtime/manage.js';
import { inspectRuntime } from '../runtime/marker.js';
import { satisfies } from '../runtime/semver.js';
import type { SystemNode } from '../runtime/types.js';
import { NODE_ENGINES, VERSION } from '../version.js';
import { formatBytes } from '../cli/format.js';
import { check, FLEETD_SCOPE } from './check.js';
import { describeShim } from '../supervise/shim-client.js';
import { MEMORY_ADDON_PATH } from '../daemon/memory-reclaim.js';
import type { MemoryReclaimView } from '../protocol/schemas.js';
import { formatDuration } from '../util/duration.js';

/** Free space below this (bytes, or fraction) fails: a gateway's databases and logs may not fit. */
export const DISK_FAIL = { bytes: 1024 ** 3, fraction: 0.05 };
/** Free space below this (bytes, or fraction) needs attention: one runtime install alone takes ~850 MB. */
export const DISK_WARN = { bytes: 5 * 1024 ** 3, fraction: 0.1 };

/** Free space and inodes of each filesystem holding one of `paths` (one check per filesystem, naming what it holds). */
export async function checkDisk(paths: Record<string, string>): Promise<DoctorCheck[]> {
  const byDevice = new Map<number, { path: string; what: string[] }>();
  for (const [what, path] of Object.entries(paths)) {
    const st = await stat(path).catch(() => undefined);
    if (!st) continue;
    const known = byDevice.get(st.dev);
    if (known) known.what.push(what);
    else byDevice.set(st.dev, { path, what: [what] });
  }
  const checks: DoctorCheck[] = [];
  for (const { path, what } of byDevice.values()) {
    const fs = await statfs(path);
    const free = fs.bavail * fs.bsize;
    const total = fs.blocks * fs.bsize;
    const fraction = total > 0 ? free / total : 1;
    const inodes = fs.files > 0 ? fs.ffree / fs.files : 1;
    const detail = `${path}: ${formatBytes(free)} free of ${formatBytes(total)} (${Math.round(fraction * 100)} %), ${Math.round(inodes * 100)} % of inodes free`;
    const below = (limit: { bytes: number; fraction: number }) => free < limit.bytes || fraction < limit.fraction || inodes < limit.fraction;
    const level = below(DISK_FAIL) ? 'fail' : below(DISK_WARN) ? 'warn' : 'ok';
    const next = level === 'ok' ? null : 'free space on that filesystem (`fleetctl runtime prune` removes runtimes no agent uses; captured logs rotate by logs.maxBytes/maxFiles in the manifest)';
    checks.push(check(level, 'disk', FLEETD_SCOPE, `free disk (${what.join(', ')})`, detail, next));
  }
  return checks;
}

/** fleetd's version and the Node it runs on, against fleetd's supported range. */
export function checkVersions(nodeVersion = process.versions.node): DoctorCheck {
  const ok = satisfies(nodeVersion, NODE_ENGINES);
  return check(
    ok ? 'ok' : 'fail',
    'versions',
    FLEETD_SCOPE,
    'fleetd and Node',
    `fleetd ${VERSION} on Node ${nodeVersion} (fleetd supports Node ${NODE_ENGINES})`,
    ok ? null : `run fleetd on a Node within ${NODE_ENGINES}`,
  );
}

/** Which per-agent shim fleetd launches: the native one (ok), or the Node one when the build made no binary (warn: ~100 ms CPU and ~12 MB more per agent, and fleetd probes every ready gateway itself). */
export function checkShim(shim: { kind: 'native' | 'node'; path: string } = describeShim()): DoctorCheck {
  const native = shim.kind === 'native';
  return check(
    native ? 'ok' : 'warn',
    'shim',
    FLEETD_SCOPE,
    'per-agent shim',
    native ? `native (${shim.path})` : `the Node shim (${shim.path}): no native shim was built (each agent costs ~12 MB more, and fleetd probes every ready gateway itself: only the native shim watches readiness)`,
    native ? null : 'install a C compiler (cc; node-gyp needs one too) and run `npm run build` again, then restart fleetd; running gateways keep their Node shims until they restart',
  );
}

/**
 * fleetd's memory reclaim as this fleetd runs it (its status view, DaemonView.memoryReclaim: what
 * it found at start, not what is on disk now): on (ok, with the last reclaim), off by
 * `--no-memory-reclaim` (info), or unavailable (warn: the addon was not built or does not load,
 * the reason; fleetd's RSS stays higher after a burst until V8 collects by itself).
 */
export function checkMemoryReclaim(view: MemoryReclaimView | undefined, path = MEMORY_ADDON_PATH, now = Date.now()): DoctorCheck {
  const title = 'memory reclaim';
  if (view?.state === 'on') {
    const last = view.last ? `; the last (${view.last.cause}) ${formatDuration(Math.max(0, now - view.last.at))} ago: RSS ${formatBytes(view.last.rssBeforeBytes)} -> ${formatBytes(view.last.rssAfterBytes)}` : '';
    return check('ok', 'memory-reclaim', FLEETD_SCOPE, title, `on (${path}): fleetd gives memory back once its fleet settles; ${view.count} since it started${last}`, null);
  }
  if (view?.state === 'off') return check('info', 'memory-reclaim', FLEETD_SCOPE, title, `off (${view.reason ?? '--no-memory-reclaim'}): fleetd gives memory back only as V8 decides`, 'start fleetd without --no-memory-reclaim to turn it on');
  return check(
    'warn',
    'memory-reclaim',
    FLEETD_SCOPE,
    title,
    `unavailable: ${view?.reason ?? 'this fleetd does not say (older than the memory reclaim)'}; fleetd gives memory back only as V8 decides: RSS at 200 agents may stay ~8 MiB higher for minutes after a burst`,
    'run `npm run build` again (it needs a C compiler: cc, or the one CC names), then restart fleetd (`fleetctl daemon restart`: it loads the addon at start)',
  );
}

/** Every version an agent is pinned to (and, unless `pinnedOnly`, every installed one): intact, its Node within OpenClaw's engines. */
export async function checkRuntimes(runtimesDir: string, pinned: ReadonlyMap<string, readonly string[]>, systemNode: SystemNode, pinnedOnly = false): Promise<DoctorCheck[]> {
  const installed = pinnedOnly ? [] : (await listRuntimes(runtimesDir)).map((r) => r.version);
  const versions = new Set<string>([...installed, ...pinned.keys()]);
  const checks: DoctorCheck[] = [];
  for (const version of [...versions].sort()) {
    const users = pinned.get(version) ?? [];
    const usedBy = users.length > 0 ? `used by ${users.join(', ')}` : 'used by no agent';
    const title = `runtime openclaw@${version}`;
    const reinstall = `fleetctl runtime remove ${version} && fleetctl runtime install ${version}${users.length > 0 ? ' (remove is refused while agents use it: pin them to another version and reload first)' : ''}`;
    const found = await inspectRuntime(runtimesDir, version, systemNode);
    if (found.state === 'absent') {
      checks.push(check('info', 'runtime', FLEETD_SCOPE, title, `not installed (${usedBy}); the agents' next start installs it`, `fleetctl runtime install ${version}`));
      continue;
    }
    if (found.state === 'incomplete') {
      checks.push(check('warn', 'runtime', FLEETD_SCOPE, title, `an install that never finished (no marker; ${usedBy})`, `fleetctl runtime install ${version} (it clears the half-made folder first)`));
      continue;
    }
    if (found.state === 'unusable') {
      checks.push(check('fail', 'runtime', FLEETD_SCOPE, title, `unusable: ${found.reason} (${usedBy})`, reinstall));
      continue;
    }
    const { runtime, marker } = found;
    const problems: string[] = [];
    const pkg = await readFile(join(runtime.dir, 'node_modules', 'openclaw', 'package.json'), 'utf8').then((t) => JSON.parse(t) as { version?: unknown }, () => undefined);
    if (pkg?.version !== version) problems.push(`node_modules/openclaw is ${pkg ? `version ${String(pkg.version)}` : 'missing its package.json'}`);
    if (!(await access(runtime.node, constants.X_OK).then(() => true, () => false))) problems.push(`${runtime.node} is not executable`);
    if (marker.enginesNode && !satisfies(runtime.nodeVersion, marker.enginesNode)) problems.push(`its Node ${runtime.nodeVersion} is outside OpenClaw's engines ${marker.enginesNode}`);
    if (problems.length > 0) {
      checks.push(check('fail', 'runtime', FLEETD_SCOPE, title, `damaged: ${problems.join('; ')} (${usedBy})`, reinstall));
    } else {
      checks.push(check('ok', 'runtime', FLEETD_SCOPE, title, `intact, on Node ${runtime.nodeVersion}${marker.enginesNode ? ` (OpenClaw needs ${marker.enginesNode})` : ''}; ${usedBy}`));
    }
  }
  return checks;
}
