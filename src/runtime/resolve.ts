// Deciding what to install for one OpenClaw version, by asking the registry: OpenClaw's
// `engines.node`, and when fleetd's own Node is outside it, the highest release of the
// platform's Node binary package that is inside it.
import { FleetError } from '../errors.js';
import { nodePackageName } from './node-package.js';
import { isNpmNotFound, parseNpmJson } from './npm.js';
import { maxSatisfying, satisfies } from './semver.js';
import type { NpmRunner, SystemNode } from './types.js';

/** What an install of one version consists of. */
export interface InstallPlan {
  version: string;
  /** OpenClaw's `engines.node`, when it declares one. */
  enginesNode?: string;
  node: { source: 'system' } | { source: 'package'; name: string; version: string };
}

/** Everything resolveInstallPlan needs; `cwd`/`env` are passed to npm. */
export interface ResolveOptions {
  npm: NpmRunner;
  version: string;
  systemNode: SystemNode;
  platform: string;
  arch: string;
  cwd: string;
  env: Record<string, string>;
}

/** Asks npm for engines and Node packages and returns the plan; RUNTIME_FAILED / UNSUPPORTED_PLATFORM otherwise. */
export async function resolveInstallPlan(o: ResolveOptions): Promise<InstallPlan> {
  const enginesNode = await fetchEnginesNode(o);
  if (enginesNode === undefined || satisfies(o.systemNode.version, enginesNode)) {
    return { version: o.version, enginesNode, node: { source: 'system' } };
  }
  const name = nodePackageName(o.platform, o.arch);
  if (!name) {
    throw new FleetError(
      'UNSUPPORTED_PLATFORM',
      `openclaw@${o.version} needs Node ${enginesNode} (fleetd runs on ${o.systemNode.version}) and npm carries no Node binary package for ${o.platform}-${o.arch}; install a Node in that range and run fleetd with it`,
    );
  }
  const versions = await fetchVersions(o, name, enginesNode);
  const picked = maxSatisfying(versions, enginesNode);
  if (!picked) {
    throw new FleetError(
      'UNSUPPORTED_PLATFORM',
      `openclaw@${o.version} needs Node ${enginesNode} (fleetd runs on ${o.systemNode.version}) and no version of ${name} on npm satisfies it (newest: ${versions.at(-1) ?? 'none'}); install a Node in that range and run fleetd with it`,
    );
  }
  return { version: o.version, enginesNode, node: { source: 'package', name, version: picked } };
}

/** `npm view openclaw@<version> version engines --json` -> engines.node (undefined when none). */
async function fetchEnginesNode(o: ResolveOptions): Promise<string | undefined> {
  const spec = `openclaw@${o.version}`;
  let stdout: string;
  try {
    stdout = await o.npm({ args: ['view', spec, 'version', 'engines', '--json'], cwd: o.cwd, env: o.env });
  } catch (err) {
    if (isNpmNotFound(err)) throw notOnRegistry(spec, err);
    throw err;
  }
  const data = parseNpmJson(stdout, `npm view ${spec}`);
  // one field present -> npm prints it bare; both -> an object
  const found = typeof data === 'string' ? data : isRecord(data) ? data.version : undefined;
  if (found !== o.version) throw notOnRegistry(spec);
  const engines = isRecord(data) ? data.engines : undefined;
  const node = isRecord(engines) ? engines.node : undefined;
  return typeof node === 'string' && node.trim() !== '' ? node : undefined;
}

/** `npm view <name> versions --json` -> every published version. */
async function fetchVersions(o: ResolveOptions, name: string, range: string): Promise<string[]> {
  let stdout: string;
  try {
    stdout = await o.npm({ args: ['view', name, 'versions', '--json'], cwd: o.cwd, env: o.env });
  } catch (err) {
    if (isNpmNotFound(err)) {
      throw new FleetError('UNSUPPORTED_PLATFORM', `the Node binary package ${name} for ${o.platform}-${o.arch} is not on the npm registry; openclaw@${o.version} needs Node ${range}: install one and run fleetd with it`, { cause: err });
    }
    throw err;
  }
  const data = parseNpmJson(stdout, `npm view ${name} versions`);
  // a package with a single version prints a bare string
  return typeof data === 'string' ? [data] : Array.isArray(data) ? data.filter((v): v is string => typeof v === 'string') : [];
}

/** The error for an OpenClaw version npm does not know. */
function notOnRegistry(spec: string, cause?: unknown): FleetError {
  return new FleetError('RUNTIME_FAILED', `${spec} is not on the npm registry; list the published versions with \`npm view openclaw versions\``, { cause });
}

/** Narrows to a plain object. */
function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
