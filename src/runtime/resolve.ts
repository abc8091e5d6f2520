// Deciding what to install for one runtime, by asking the registry: OpenClaw's
// `engines.node`, then the Node: the pinned one (`gateway.node`), checked against the
// registry and the range; else the newest release of the newest LTS line inside the range
// (node-lts.ts). A runtime always gets its own Node binary package when npm has one for
// the platform, so its Node never changes under it (a system Node upgrade would change
// every runtime at once, outside any rollout); fleetd's own Node is used only on
// platforms npm has no Node package for.
import { FleetError } from '../errors.js';
import { nodePackageName } from './node-package.js';
import { pickNodeVersion, type NodeReleases } from './node-lts.js';
import { isNpmNotFound, parseNpmJson } from './npm.js';
import { describeRuntime, runtimeKey, type RuntimeId } from './runtime-key.js';
import { satisfies } from './semver.js';
import type { NpmRunner, SystemNode } from './types.js';

/** What an install of one runtime consists of. */
export interface InstallPlan {
  /** The OpenClaw version. */
  version: string;
  /** Runtime key (folder name part): the version, plus `+node-<v>` when pinned. */
  key: string;
  /** OpenClaw's `engines.node`, when it declares one. */
  enginesNode?: string;
  node: { source: 'system' } | { source: 'package'; name: string; version: string };
  /** Why this Node, for people (pinned, LTS rule, fallback). */
  nodeReason: string;
}

/** Everything resolveInstallPlan needs; `cwd`/`env` are passed to npm. */
export interface ResolveOptions {
  npm: NpmRunner;
  /** OpenClaw version and optional Node pin. */
  id: RuntimeId;
  systemNode: SystemNode;
  platform: string;
  arch: string;
  cwd: string;
  env: Record<string, string>;
  /** Clock for the LTS rule (epoch ms). */
  now: number;
}

/** A failure no retry can fix (the lead's runtime retry loop gives up at once on these). */
function permanent(code: 'RUNTIME_FAILED' | 'UNSUPPORTED_PLATFORM', message: string, cause?: unknown): FleetError {
  return new FleetError(code, message, { cause, details: { permanent: true } });
}

/** Asks npm for engines and Node packages and returns the plan; RUNTIME_FAILED / UNSUPPORTED_PLATFORM otherwise. */
export async function resolveInstallPlan(o: ResolveOptions): Promise<InstallPlan> {
  const { id } = o;
  const key = runtimeKey(id);
  const enginesNode = await fetchEnginesNode(o);
  const range = enginesNode ?? '*';
  const what = describeRuntime(id);
  if (id.node !== undefined && !satisfies(id.node, range)) {
    throw permanent('RUNTIME_FAILED', `gateway.node pins Node ${id.node}, but openclaw@${id.openclaw} needs Node ${range} (its engines.node); pin a version inside it or remove the pin`);
  }
  const name = nodePackageName(o.platform, o.arch);
  if (!name) {
    const system = o.systemNode.version;
    if (id.node !== undefined ? system === id.node : satisfies(system, range)) {
      return { version: id.openclaw, key, enginesNode, node: { source: 'system' }, nodeReason: `fleetd's own Node ${system}: npm has no Node package for ${o.platform}-${o.arch}` };
    }
    const need = id.node !== undefined ? `Node ${id.node} (gateway.node)` : `Node ${range}`;
    throw permanent(
      'UNSUPPORTED_PLATFORM',
      `${what} needs ${need} (fleetd runs on ${system}) and npm carries no Node binary package for ${o.platform}-${o.arch}; run fleetd with such a Node`,
    );
  }
  const releases = await fetchReleases(o, name, range);
  if (id.node !== undefined) {
    if (!releases.versions.includes(id.node)) {
      throw permanent('RUNTIME_FAILED', `gateway.node pins Node ${id.node}, which is not on the npm registry as ${name} (newest: ${releases.versions.at(-1) ?? 'none'}); list them with \`npm view ${name} versions\``);
    }
    return { version: id.openclaw, key, enginesNode, node: { source: 'package', name, version: id.node }, nodeReason: `pinned by gateway.node` };
  }
  const picked = pickNodeVersion(releases, enginesNode, o.now);
  if (!picked) {
    throw permanent(
      'UNSUPPORTED_PLATFORM',
      `openclaw@${id.openclaw} needs Node ${range} and no release of ${name} on npm satisfies it (newest: ${releases.versions.at(-1) ?? 'none'}); install a Node in that range and run fleetd with it`,
    );
  }
  return { version: id.openclaw, key, enginesNode, node: { source: 'package', name, version: picked.version }, nodeReason: picked.reason };
}

/** `npm view openclaw@<version> version engines --json` -> engines.node (undefined when none). */
async function fetchEnginesNode(o: ResolveOptions): Promise<string | undefined> {
  const spec = `openclaw@${o.id.openclaw}`;
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
  if (found !== o.id.openclaw) throw notOnRegistry(spec);
  const engines = isRecord(data) ? data.engines : undefined;
  const node = isRecord(engines) ? engines.node : undefined;
  return typeof node === 'string' && node.trim() !== '' ? node : undefined;
}

/** `npm view <name> versions time --json` -> every published version with its publish time. */
async function fetchReleases(o: ResolveOptions, name: string, range: string): Promise<NodeReleases> {
  let stdout: string;
  try {
    stdout = await o.npm({ args: ['view', name, 'versions', 'time', '--json'], cwd: o.cwd, env: o.env });
  } catch (err) {
    if (isNpmNotFound(err)) {
      throw permanent('UNSUPPORTED_PLATFORM', `the Node binary package ${name} for ${o.platform}-${o.arch} is not on the npm registry; openclaw@${o.id.openclaw} needs Node ${range}: install one and run fleetd with it`, err);
    }
    throw err;
  }
  const data = parseNpmJson(stdout, `npm view ${name} versions time`);
  const rawVersions = isRecord(data) ? data.versions : undefined;
  // a package with a single version prints a bare string
  const versions = typeof rawVersions === 'string' ? [rawVersions] : Array.isArray(rawVersions) ? rawVersions.filter((v): v is string => typeof v === 'string') : [];
  const time: Record<string, string> = {};
  const rawTime = isRecord(data) ? data.time : undefined;
  if (isRecord(rawTime)) for (const [k, v] of Object.entries(rawTime)) if (typeof v === 'string') time[k] = v;
  return { versions, time };
}

/** The error for an OpenClaw version npm does not know. */
function notOnRegistry(spec: string, cause?: unknown): FleetError {
  return new FleetError('RUNTIME_FAILED', `${spec} is not on the npm registry; list the published versions with \`npm view openclaw versions\``, { cause });
}

/** Narrows to a plain object. */
function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
