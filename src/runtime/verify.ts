// Checking a finished npm install before it is published: the exact versions landed, the
// Node binary runs and is inside OpenClaw's engines range, and OpenClaw's bin entry exists.
import { lstat, opendir, readFile, stat } from 'node:fs/promises';
import { delimiter, dirname, isAbsolute, join, relative } from 'node:path';
import { FleetError } from '../errors.js';
import { nodeBinaryPath } from './node-package.js';
import { parseVersion, satisfies } from './semver.js';
import type { InstallPlan } from './resolve.js';
import type { SystemNode } from './types.js';
import { firstUse } from '../util/first-use.js';

/** What verification learned, to go into the marker. */
export interface VerifiedInstall {
  /** Relative to the install folder for a Node package, absolute for the system Node. */
  node: string;
  nodeVersion: string;
  /** OpenClaw's bin entry, relative to the install folder. */
  entry: string;
  sizeBytes: number;
}

/** Verifies the install in `dir` against `plan`; RUNTIME_FAILED naming the first thing wrong. */
export async function verifyInstall(dir: string, plan: InstallPlan, systemNode: SystemNode, env: Record<string, string>): Promise<VerifiedInstall> {
  const fail = (what: string): never => {
    throw new FleetError('RUNTIME_FAILED', `install of openclaw@${plan.version} failed verification: ${what}`);
  };
  const manifest = await readJson(join(dir, 'package.json'));
  const deps = (manifest?.dependencies ?? {}) as Record<string, unknown>;
  if (deps.openclaw !== plan.version) fail(`package.json pins openclaw to ${String(deps.openclaw)}, not exactly ${plan.version}`);
  if (plan.node.source === 'package' && deps[plan.node.name] !== plan.node.version) {
    fail(`package.json pins ${plan.node.name} to ${String(deps[plan.node.name])}, not exactly ${plan.node.version}`);
  }

  const pkgDir = join(dir, 'node_modules', 'openclaw');
  const pkg = await readJson(join(pkgDir, 'package.json'));
  if (!pkg) fail('node_modules/openclaw/package.json is missing');
  if (pkg?.version !== plan.version) fail(`node_modules/openclaw is version ${String(pkg?.version)}`);
  const bin = typeof pkg?.bin === 'string' ? pkg.bin : (pkg?.bin as Record<string, unknown> | undefined)?.openclaw;
  if (typeof bin !== 'string') fail('OpenClaw\'s package.json has no "openclaw" bin entry');
  const entryAbs = join(pkgDir, bin as string);
  const entry = relative(dir, entryAbs);
  const inPkg = relative(pkgDir, entryAbs);
  if (inPkg === '' || inPkg.startsWith('..') || isAbsolute(inPkg)) fail(`OpenClaw's bin entry ${String(bin)} points outside its package`);
  if (!(await stat(entryAbs).then((s) => s.isFile(), () => false))) fail(`OpenClaw's bin entry ${entry} is missing`);

  const node = plan.node.source === 'package' ? nodeBinaryPath(plan.node.name) : systemNode.path;
  const nodeAbs = plan.node.source === 'package' ? join(dir, node) : node;
  const nodeVersion = await runNodeVersion(nodeAbs, env).catch((err: Error) => fail(`${node} --version failed: ${err.message}`));
  if (plan.node.source === 'package' && nodeVersion !== plan.node.version) fail(`${node} reports ${nodeVersion}, expected ${plan.node.version}`);
  if (plan.enginesNode && !satisfies(nodeVersion, plan.enginesNode)) fail(`${node} is Node ${nodeVersion}, outside ${plan.enginesNode}`);

  return { node, nodeVersion, entry, sizeBytes: await treeSize(dir) };
}

/** Runs `<node> --version` with its own folder first on PATH and returns the version without "v". */
export async function runNodeVersion(node: string, env: Record<string, string>): Promise<string> {
  const { execa } = await firstUse('checking a Node runtime', () => import('execa')); // loaded on first use (runtime installs only)
  const { stdout } = await execa(node, ['--version'], {
    env: { ...env, PATH: [dirname(node), env.PATH ?? ''].join(delimiter) },
    extendEnv: false,
    stdin: 'ignore',
    timeout: 30_000,
  });
  const version = stdout.trim().replace(/^v/, '');
  if (!parseVersion(version)) throw new Error(`printed ${JSON.stringify(stdout.slice(0, 80))}, not a version`);
  return version;
}

/** Apparent size in bytes of every file under `dir` (symlinks counted, not followed). */
export async function treeSize(dir: string): Promise<number> {
  let total = 0;
  const pending = [dir];
  for (let current = pending.pop(); current !== undefined; current = pending.pop()) {
    for await (const entry of await opendir(current)) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) pending.push(path);
      else total += (await lstat(path).catch(() => undefined))?.size ?? 0;
    }
  }
  return total;
}

/** Parses a JSON file into an object; undefined when missing or not an object. */
async function readJson(path: string): Promise<Record<string, unknown> | undefined> {
  try {
    const data: unknown = JSON.parse(await readFile(path, 'utf8'));
    return typeof data === 'object' && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
