// `fleetctl doctor [FLEET/AGENT]`, run inside fleetd (it sees what its gateways see: their
// /tmp under systemd's PrivateTmp, their /proc entries, their homes). The whole installation:
// versions, the native shim and the memory reclaim, manifest, registry, disk, runtimes, isolation
// as fleetd uses it, OpenClaw's lock files (per user an agent runs as), fleetd's own files, then
// every agent (state, port held by its own processes, files at their modes and owners, leftover
// processes). An agent's processes are its gateway tree plus, when it has a cgroup, every
// member of that cgroup. For one agent: the installation checks that concern it, its own
// checks, and `openclaw doctor` run as it (its environment, runtime, home, and its user).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { toFleetError } from '../errors.js';
import { formatSummary, summarizeManifest } from '../manifest/summary.js';
import type { Manifest } from '../manifest/schema.js';
import type { AgentView, DaemonView } from '../protocol/schemas.js';
import type { DoctorCheck, DoctorReport } from '../protocol/doctor-schemas.js';
import { agentPaths } from '../provision/home.js';
import type { SystemNode } from '../runtime/types.js';
import { readSecretEnv } from '../secrets/read.js';
import { isAlive, listProcesses } from '../supervise/proc.js';
import { createListenerCheck, type ListenerCheck } from '../supervise/listener-owner.js';
import { agentIsolationSpec } from '../isolation/agent-spec.js';
import { agentCgroup } from '../isolation/cgroup-agent.js';
import { findSetpriv, lookupUser, type TenantUser } from '../isolation/user-lookup.js';
import type { UserChoice } from '../isolation/users.js';
import { planRunAs } from '../cli/exec/run-as.js';
import { VERSION } from '../version.js';
import { agentFacts, agentUserOf, fleetdUser, redactionSetOf } from '../daemon/agent-facts.js';
import { buildExecSpec } from '../daemon/exec-spec.js';
import type { Fleet } from '../daemon/fleet.js';
import { checkPort, checkState } from './agent-checks.js';
import { check, FLEETD_SCOPE, needsAttention } from './check.js';
import { agentPathRules, checkPaths, fleetdPathRules } from './file-modes.js';
import { checkDisk, checkMemoryReclaim, checkRuntimes, checkShim, checkVersions } from './host-checks.js';
import { checkIsolation, isolationEnv } from './isolation.js';
import { checkLockFiles, lockDirOf, lockHashOf, openPaths } from './lock-files.js';
import { checkOpenclawDoctor, OPENCLAW_DOCTOR_ARGS, runCommand, type OpenclawResult, type OpenclawRun } from './openclaw-doctor.js';
import { checkOrphans, currentTrees, markedProcesses } from './orphans.js';

/** Longest `openclaw doctor` may run (ms); measured ~7 s on an idle 2-core machine. */
export const OPENCLAW_DOCTOR_TIMEOUT_MS = 120_000;

/** What doctor works with (real defaults for everything but the fleet and its manifest reader). */
export interface DoctorEnv {
  fleet: Fleet;
  readManifest: () => Promise<Manifest>;
  daemon: () => DaemonView;
  listener?: ListenerCheck;
  /** The isolation checks (default: isolation.ts on what the fleet uses). */
  isolation?: () => DoctorCheck[];
  /** Looks a tenant user up (default: isolation/user-lookup.ts). */
  lookupUser?: (choice: UserChoice) => TenantUser;
  /** Where OpenClaw's lock folders are (default /tmp). */
  lockTmp?: string;
  runOpenclaw?: (run: OpenclawRun) => Promise<OpenclawResult>;
  systemNode?: SystemNode;
  now?: () => number;
}

/** What to check. */
export interface DoctorRequest {
  /** One agent (`fleet/agent`), or the whole installation. */
  address?: string;
  /** Run `openclaw doctor` as the agent (one agent only). */
  openclaw: boolean;
}

/** The manifest on disk: loads, and matches what runs (else a reload is pending, or refused). */
async function checkManifest(env: DoctorEnv): Promise<DoctorCheck> {
  const path = env.fleet.manifest.manifestPath;
  let next: Manifest;
  try {
    next = await env.readManifest();
  } catch (err) {
    return check('fail', 'manifest', FLEETD_SCOPE, 'manifest', `${path} cannot be loaded now: ${toFleetError(err).message}`, 'fix the file (`fleetd validate --manifest FILE` lists every problem); fleetd keeps running the manifest it loaded last');
  }
  const size = formatSummary(summarizeManifest(next));
  try {
    const plan = await env.fleet.reload(async () => next, { dryRun: true });
    if (plan.actions.length === 0) return check('ok', 'manifest', FLEETD_SCOPE, 'manifest', `${path}: valid (${size}); what runs matches it`);
    const first = plan.actions.slice(0, 3).map((a) => `${a.kind} ${a.address}`).join(', ');
    return check('warn', 'manifest', FLEETD_SCOPE, 'manifest', `${path}: valid (${size}), but ${plan.actions.length} change(s) are not applied yet: ${first}${plan.actions.length > 3 ? ', ...' : ''}`, 'fleetctl reload --dry-run, then fleetctl reload');
  } catch (err) {
    return check('warn', 'manifest', FLEETD_SCOPE, 'manifest', `${path}: valid (${size}), but a reload would be refused: ${toFleetError(err).message}`, 'restart fleetd to apply it (systemctl restart fleetd)');
  }
}

/** registry.json lags behind memory (a write failed). */
function checkRegistry(daemon: DaemonView): DoctorCheck {
  const lag = daemon.registryBehind;
  if (!lag) return check('ok', 'registry', FLEETD_SCOPE, 'registry', 'registry.json is up to date');
  return check('fail', 'registry', FLEETD_SCOPE, 'registry', `registry.json lags behind since ${new Date(lag.since).toISOString()}: ${lag.error}; a crash now would lose changes`, 'free space or fix permissions in the state dir; fleetd retries by itself');
}

/** Homes under `<stateDir>/fleets/` of agents fleetd no longer has (removed without --purge). */
function removedHomes(stateDir: string, current: ReadonlySet<string>): Map<string, string> {
  const out = new Map<string, string>();
  const root = join(stateDir, 'fleets');
  const list = (dir: string) => {
    try {
      return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    } catch {
      return [];
    }
  };
  for (const fleet of list(root)) for (const agent of list(join(root, fleet))) if (!current.has(`${fleet}/${agent}`)) out.set(`${fleet}/${agent}`, join(root, fleet, agent));
  return out;
}

/** The tenant user each agent runs as (by address); agents of fleetd's own user, or whose user is unknown here (the isolation check names it), are absent. */
function tenantsOf(env: DoctorEnv, views: readonly AgentView[]): Map<string, TenantUser> {
  const lookup = env.lookupUser ?? ((choice: UserChoice) => lookupUser(choice));
  const known = new Map<string, TenantUser | undefined>();
  const out = new Map<string, TenantUser>();
  for (const view of views) {
    const choice = agentIsolationSpec(env.fleet.manifest, view.fleet, view.agent).user;
    if (!choice) continue;
    if (!known.has(choice.name)) {
      try {
        known.set(choice.name, lookup(choice));
      } catch {
        known.set(choice.name, undefined);
      }
    }
    const user = known.get(choice.name);
    if (user) out.set(view.address, user);
  }
  return out;
}

/** The checks of the whole installation (or, with `only`, those that concern that agent). */
async function installationChecks(env: DoctorEnv, views: AgentView[], only: string | undefined, tenants: ReadonlyMap<string, TenantUser>): Promise<DoctorCheck[]> {
  const m = env.fleet.manifest;
  const uid = fleetdUser().uid;
  const systemNode = env.systemNode ?? { version: process.versions.node, path: process.execPath };
  const pinned = new Map([...env.fleet.runtimeUsage()].filter(([, users]) => only === undefined || users.includes(only)));
  const checks: DoctorCheck[] = [checkVersions(), checkShim(), checkMemoryReclaim(env.daemon().memoryReclaim), await checkManifest(env), checkRegistry(env.daemon())];
  checks.push(...(await checkDisk({ 'state dir': m.stateDir, runtimes: m.runtimesDir })));
  checks.push(...(await checkRuntimes(m.runtimesDir, pinned, systemNode, only !== undefined)));
  const agents = views.map((v) => ({ address: v.address, fleet: v.fleet, agent: v.agent }));
  checks.push(...(env.isolation ?? (() => checkIsolation(isolationEnv({ host: env.fleet.isolation, manifest: m, agents }))))());
  if (only === undefined) {
    checks.push(...(await checkPaths(FLEETD_SCOPE, fleetdPathRules({ stateDir: m.stateDir, socket: m.socket, socketGroup: m.socketGroup, uid, tenants: tenants.size > 0 }))));
    checks.push(...lockFileChecks(env, views, tenants, uid));
  }
  return checks;
}

// OpenClaw keeps its lock files per user (/tmp/openclaw-state-locks-<uid>/): an agent's are
// in the folder of the user it runs as; a removed agent's in the folder of its home's owner.
/** OpenClaw's lock files: one summary per lock folder in use, a warning per removed agent that left some. */
function lockFileChecks(env: DoctorEnv, views: readonly AgentView[], tenants: ReadonlyMap<string, TenantUser>, fleetdUid: number): DoctorCheck[] {
  const byUid = new Map<number, { current: Map<string, string>; removed: Map<string, string> }>();
  const at = (uid: number) => byUid.get(uid) ?? byUid.set(uid, { current: new Map(), removed: new Map() }).get(uid)!;
  at(fleetdUid);
  for (const view of views) at(tenants.get(view.address)?.uid ?? fleetdUid).current.set(view.address, lockHashOf(view.home));
  for (const [address, home] of removedHomes(env.fleet.manifest.stateDir, new Set(views.map((v) => v.address)))) {
    let owner = fleetdUid;
    try {
      owner = statSync(home).uid;
    } catch {
      // gone meanwhile: fleetd's folder is as good a guess as any
    }
    at(owner).removed.set(address, lockHashOf(home));
  }
  const open = openPaths();
  return [...byUid].sort(([a], [b]) => a - b).flatMap(([uid, { current, removed }]) => checkLockFiles({ dir: lockDirOf(uid, env.lockTmp), current, removed, open }));
}

/** Every process of each running agent: its gateway tree and, with cgroups, its cgroup's members (a daemon that left the tree is still the agent's). */
function agentProcesses(env: DoctorEnv, views: readonly AgentView[], table: ReturnType<typeof listProcesses>): Map<string, Set<number>> {
  const trees = currentTrees(new Map(views.filter((v) => v.pid !== null).map((v) => [v.address, v.pid!] as [string, number])), table);
  const host = env.fleet.isolation?.cgroups;
  if (!host) return trees;
  for (const view of views) {
    let members: number[] = [];
    try {
      members = agentCgroup(host, view.fleet, view.agent)?.pids() ?? [];
    } catch {
      // no cgroup made for it yet (never started), or gone meanwhile
    }
    if (members.length === 0) continue;
    const set = trees.get(view.address) ?? new Set<number>();
    for (const pid of members) set.add(pid);
    trees.set(view.address, set);
  }
  return trees;
}

/** The checks of each agent: state, port, files; then leftover processes of all of them. */
async function agentChecks(env: DoctorEnv, views: AgentView[], only: string | undefined, tenants: ReadonlyMap<string, TenantUser>): Promise<DoctorCheck[]> {
  const m = env.fleet.manifest;
  const uid = fleetdUser().uid;
  const listener = env.listener ?? createListenerCheck();
  const table = listProcesses();
  const processes = agentProcesses(env, views, table);
  const checks: DoctorCheck[] = [];
  for (const view of views) {
    checks.push(checkState(view));
    checks.push(checkPort(view, [...(processes.get(view.address) ?? [])], listener));
    checks.push(...(await checkPaths(view.address, await agentPathRules(m.stateDir, view.fleet, view.agent, { fleetd: uid, tenant: tenants.get(view.address)?.uid, tenants: tenants.size > 0 }))));
  }
  const stopping = new Set(views.filter((v) => v.state === 'stopping').map((v) => v.address));
  const comm = new Map(table.map((p) => [p.pid, p.comm]));
  checks.push(...checkOrphans({ marked: markedProcesses(m.stateDir, { table: () => table }), trees: processes, stopping, fleetdPid: process.pid, isAlive, commOf: (pid) => comm.get(pid) ?? '', ...(only ? { only } : {}) }));
  return checks;
}

/** `openclaw doctor` as the agent: skipped (information) when it cannot run yet. */
async function openclawChecks(env: DoctorEnv, address: string): Promise<DoctorCheck[]> {
  const [fleetId, agentId] = address.split('/') as [string, string];
  const facts = agentFacts(env.fleet, fleetId, agentId);
  let user;
  try {
    user = agentUserOf(facts, env.lookupUser);
  } catch (err) {
    return [check('info', 'openclaw-doctor', address, 'openclaw doctor', `not run: ${toFleetError(err).message}`)];
  }
  // as the agent's user, the way `fleetctl exec` becomes it (setpriv from root)
  let setpriv: string | undefined;
  try {
    setpriv = findSetpriv();
  } catch {
    setpriv = undefined;
  }
  const runAs = planRunAs(fleetdUser().uid, user, address, setpriv);
  if (runAs.kind === 'refuse') return [check('info', 'openclaw-doctor', address, 'openclaw doctor', `not run: ${runAs.message}`)];
  let spec;
  try {
    spec = await buildExecSpec({ facts, parentEnv: env.fleet.parentEnv, user, ...(env.systemNode ? { systemNode: env.systemNode } : {}) });
  } catch (err) {
    return [check('info', 'openclaw-doctor', address, 'openclaw doctor', `not run: ${toFleetError(err).message}`)];
  }
  if (!spec.runtime) return [check('info', 'openclaw-doctor', address, 'openclaw doctor', 'not run: the agent runs gateway.command, not an OpenClaw version fleetd manages')];
  const secrets = await redactionSetOf(facts, env.fleet.parentEnv);
  let secretEnv: Record<string, string> = {};
  try {
    secretEnv = (await readSecretEnv(facts.effective.secretEnv, { address, credentialsDir: env.fleet.parentEnv['CREDENTIALS_DIRECTORY'], reader: `fleetd (uid ${fleetdUser().uid})` })).env;
  } catch (err) {
    return [check('fail', 'openclaw-doctor', address, 'openclaw doctor', `not run: ${toFleetError(err).message}`, 'fix the secret files named above; the gateway needs them too')];
  }
  const args = [...OPENCLAW_DOCTOR_ARGS];
  const argv = [...(runAs.kind === 'setpriv' ? runAs.prefix : []), spec.runtime.node, spec.runtime.entry, ...args];
  return checkOpenclawDoctor({ address, argv, cwd: spec.cwd, env: { ...spec.env, ...secretEnv }, secrets, timeoutMs: OPENCLAW_DOCTOR_TIMEOUT_MS }, env.runOpenclaw ?? runCommand);
}

/** Runs doctor; NOT_FOUND for an unknown agent. */
export async function runDoctor(request: DoctorRequest, env: DoctorEnv): Promise<DoctorReport> {
  const now = env.now ?? Date.now;
  const started = now();
  const views = request.address === undefined ? env.fleet.views() : [env.fleet.view(request.address)];
  const tenants = tenantsOf(env, request.address === undefined ? views : env.fleet.views());
  const checks = [...(await installationChecks(env, views, request.address, tenants)), ...(await agentChecks(env, views, request.address, tenants))];
  if (request.address !== undefined && request.openclaw) {
    const home = agentPaths(env.fleet.manifest.stateDir, views[0]!.fleet, views[0]!.agent).home;
    checks.push(...(existsSync(home) ? await openclawChecks(env, request.address) : [check('info', 'openclaw-doctor', request.address, 'openclaw doctor', 'not run: the agent has no home yet (it is made at its first start)')]));
  }
  return { address: request.address ?? null, fleetd: { version: VERSION, node: process.versions.node, pid: process.pid }, checks, attention: needsAttention(checks), durationMs: now() - started };
}
