// ensureRuntime: make sure one runtime (an OpenClaw version, with its Node pinned or chosen
// by the LTS rule) is installed under the runtimes directory and return how to launch it.
// Installs are locked per runtime key (the second caller waits,
// then reuses), built in a temp folder, verified, marked complete, then renamed into
// place: a crash at any instant leaves either no runtime or a complete one.
import { chmod, mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FleetError } from '../errors.js';
import { removeOwnedDir, runtimeDir, tempPrefix, versionOfEntry } from './layout.js';
import { withRuntimeLock, type HeldLock } from './lock.js';
import { inspectRuntime, readMarker, writeMarker } from './marker.js';
import { nodeBinaryPath } from './node-package.js';
import { buildNpmEnv, createNpmRunner } from './npm.js';
import { resolveInstallPlan } from './resolve.js';
import { describeRuntime, requireRuntimeKey, type RuntimeId } from './runtime-key.js';
import { verifyInstall } from './verify.js';
import type { NpmRunner, ProgressEvent, ProgressPhase, Runtime, SystemNode } from './types.js';

/** Options of ensureRuntime; everything after `lockTimeoutMs` is a dependency with a real default. */
export interface EnsureRuntimeOptions {
  runtimesDir: string;
  /** Runtime key: an exact OpenClaw version (2026.9.6), optionally with its Node pinned (2026.9.6+node-24.21.0). */
  version: string;
  onProgress?: (event: ProgressEvent) => void;
  /** Runs npm (default: the `npm` on PATH, through execa). */
  npm?: NpmRunner;
  /** How long to wait for another install/removal of the same version (default 15 min). */
  lockTimeoutMs?: number;
  /** The Node running fleetd (default process.versions.node / process.execPath). */
  systemNode?: SystemNode;
  platform?: string;
  arch?: string;
  /** Environment the npm allow-list is drawn from (default process.env). */
  env?: NodeJS.ProcessEnv;
  now?: () => number;
}

/** npm flags of every install: no audit/fund noise, no dev deps, exact pins. */
const INSTALL_FLAGS = ['--no-audit', '--no-fund', '--omit=dev', '--save-exact'];

/** Returns the runtime of `version` (a runtime key), installing it first when it is missing. */
export async function ensureRuntime(options: EnsureRuntimeOptions): Promise<Runtime> {
  const { runtimesDir, version } = options;
  const id = requireRuntimeKey(version);
  const what = describeRuntime(id);
  const now = options.now ?? Date.now;
  const start = now();
  const progress = (phase: ProgressPhase, message: string): void => options.onProgress?.({ phase, message, elapsedMs: now() - start });
  const systemNode = options.systemNode ?? { version: process.versions.node, path: process.execPath };

  await mkdir(runtimesDir, { recursive: true, mode: 0o755 });
  // fast path without the lock: a runtime is published by one rename, so what we see is whole
  const seen = await inspectRuntime(runtimesDir, version, systemNode);
  if (seen.state === 'ready') {
    progress('done', `${what} already installed in ${seen.runtime.dir}`);
    return seen.runtime;
  }

  return withRuntimeLock(runtimesDir, version, { timeoutMs: options.lockTimeoutMs }, async (lock) => {
    const found = await inspectRuntime(runtimesDir, version, systemNode);
    if (found.state === 'ready') {
      progress('done', `${what} was installed meanwhile by another process`);
      return found.runtime;
    }
    if (found.state === 'unusable') {
      throw new FleetError('RUNTIME_FAILED', `${found.reason}; run \`fleetctl runtime remove ${version}\`, then install it again`);
    }
    // we hold the lock, so any temp/trash folder of this version belongs to a dead process
    await cleanLeftovers(runtimesDir, version);
    const runtime = await install({ ...options, id, systemNode, lock, progress, now });
    progress('done', `done in ${Math.round((now() - start) / 1000)} s: openclaw@${id.openclaw} with Node ${runtime.nodeVersion}`);
    return runtime;
  });
}

/** Removes this runtime key's dead temp and trash folders and a final folder without marker. */
export async function cleanLeftovers(runtimesDir: string, version: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(runtimesDir)) {
    const entry = versionOfEntry(name);
    if (!entry || entry.version !== version) continue;
    if (entry.kind === 'final' && (await readMarker(join(runtimesDir, name))) !== undefined) continue;
    if (await removeOwnedDir(runtimesDir, name)) removed.push(name);
  }
  return removed;
}

/** The install itself, run under the version's lock. */
async function install(
  o: EnsureRuntimeOptions & { id: RuntimeId; systemNode: SystemNode; lock: HeldLock; progress: (phase: ProgressPhase, message: string) => void; now: () => number },
): Promise<Runtime> {
  const { runtimesDir, version: key, id, systemNode, progress } = o;
  const version = id.openclaw;
  const npm = o.npm ?? createNpmRunner();
  const env = o.env ?? process.env;

  progress('resolving', `resolving ${describeRuntime(id)}`);
  const plan = await resolveInstallPlan({
    npm,
    id,
    now: o.now(),
    systemNode,
    platform: o.platform ?? process.platform,
    arch: o.arch ?? process.arch,
    cwd: runtimesDir,
    env: buildNpmEnv(dirname(systemNode.path), env),
  });

  progress('resolving', `Node for openclaw@${version}: ${plan.node.source === 'package' ? plan.node.version : `fleetd's own ${systemNode.version}`} (${plan.nodeReason})`);
  const tmp = await mkdtemp(join(runtimesDir, tempPrefix(key)));
  try {
    await chmod(tmp, 0o755); // a runtime holds no secrets; agents may run it under other uids
    // OpenClaw's preinstall checks the `node` on PATH: the chosen Node's folder goes first
    const nodeBin = plan.node.source === 'package' ? dirname(join(tmp, nodeBinaryPath(plan.node.name))) : dirname(systemNode.path);
    const npmEnv = buildNpmEnv(nodeBin, env);
    const dependencies = plan.node.source === 'package' ? { [plan.node.name]: plan.node.version } : {};
    const manifest = { name: 'fleetd-openclaw-runtime', version: '0.0.0', private: true, description: `openclaw@${version}, installed by openclaw-fleetd`, dependencies };
    await writeFile(join(tmp, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);

    if (plan.node.source === 'package') {
      progress('downloading', `downloading ${plan.node.name}@${plan.node.version} (Node for openclaw@${version})`);
      await npm({ args: ['install', ...INSTALL_FLAGS], cwd: tmp, env: npmEnv });
    }
    progress('downloading', `downloading openclaw@${version} and its dependencies`);
    await npm({ args: ['install', ...INSTALL_FLAGS, `openclaw@${version}`], cwd: tmp, env: npmEnv });

    progress('verifying', `verifying openclaw@${version}`);
    const verified = await verifyInstall(tmp, plan, systemNode, npmEnv);
    await writeMarker(tmp, {
      schema: 1,
      version,
      ...(id.node !== undefined ? { nodePinned: true } : {}),
      nodeReason: plan.nodeReason,
      nodeVersion: verified.nodeVersion,
      nodeSource: plan.node.source,
      node: verified.node,
      nodePackage: plan.node.source === 'package' ? plan.node.name : undefined,
      entry: verified.entry,
      enginesNode: plan.enginesNode,
      platform: o.platform ?? process.platform,
      arch: o.arch ?? process.arch,
      installedAt: new Date(o.now()).toISOString(),
      sizeBytes: verified.sizeBytes,
    });
    o.lock.assertHeld();
    await rename(tmp, runtimeDir(runtimesDir, key));
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }

  const done = await inspectRuntime(runtimesDir, key, systemNode);
  if (done.state !== 'ready') {
    throw new FleetError('RUNTIME_FAILED', `${describeRuntime(id)} was installed but is not usable: ${done.state === 'unusable' ? done.reason : done.state}`);
  }
  return done.runtime;
}
