// Builds the `status` view of one agent from the one source of its state (its runner's
// status), its declaration, its registry entry and its latest reading (/proc, cgroup:
// status-readings.ts). No second copy of any state.
import type { AgentView } from '../protocol/schemas.js';
import type { DesiredAgent, RegistryEntry } from '../plan/types.js';
import type { TreeUsage } from '../supervise/proc-table.js';
import { NOT_STARTED_REASON, type RunnerStatus } from '../supervise/types.js';
import type { IsolationHost } from '../isolation/agent-isolation.js';
import type { AgentIsolationSpec } from '../isolation/agent-spec.js';
import type { AgentCgroup } from '../isolation/cgroup-agent.js';
import { stateKey, type StatusReading, type StatusReadings } from './status-readings.js';
import { agentIsolationView } from '../isolation/isolation-status.js';
import { agentPaths } from '../provision/home.js';
import type { Agent } from './agent.js';
import { stringifyRedacted, type SecretMatcher } from '../supervise/redact.js';
import { merge } from '../util/merge.js';
import { sameData } from '../util/same-data.js';

/** Inputs of toAgentView. */
export interface ViewInput {
  desired: DesiredAgent;
  entry: Readonly<RegistryEntry> | undefined;
  home: string;
  status: RunnerStatus;
  /** What its process tree uses now (null: no process). */
  usage: TreeUsage | null;
  now: number;
}

/** Describes how an agent is launched, for people. */
export function describeLaunch(desired: DesiredAgent): string {
  return desired.launch.kind === 'openclaw' ? `openclaw@${desired.launch.version}` : desired.launch.command.join(' ');
}

/** One line of `fleetctl status`. */
export function toAgentView(input: ViewInput): AgentView {
  const { desired, entry, status } = input;
  // Before its first launch a runner says "not started yet" (whatever it recalled of a previous fleetd); say why it is not.
  const idle = status.state === 'stopped' && status.reason === NOT_STARTED_REASON;
  const reason = !desired.enabled && status.state === 'stopped' ? 'disabled in the manifest' : idle && entry?.desired === 'stopped' ? 'stopped by the operator' : status.reason;
  return {
    address: desired.address,
    fleet: desired.fleet,
    agent: desired.agent,
    source: desired.source,
    enabled: desired.enabled,
    // what fleetd will keep it at: a disabled agent is wanted stopped whatever the registry says
    desired: desired.enabled ? (entry?.desired ?? 'running') : 'stopped',
    state: status.state,
    reason,
    since: status.since,
    pid: status.pid,
    port: entry?.port ?? status.port,
    home: input.home,
    uptimeMs: status.spawnedAt !== null ? input.now - status.spawnedAt : null,
    healthyForMs: status.runningSince !== null ? input.now - status.runningSince : null,
    restarts: status.restarts,
    lastExit: status.lastExit,
    health: status.health,
    rssBytes: input.usage?.rssBytes ?? null,
    cpuSeconds: input.usage?.cpuSeconds ?? null,
    nextStartAt: status.nextStartAt,
    runtime: describeLaunch(desired),
  };
}

/** What agentViews reads besides the agents (fleet.ts passes its own). */
export interface ViewsContext {
  stateDir: string;
  /** epoch ms. */
  now: number;
  /** Usage of each agent (its tree from /proc, its cgroup), read off the request path (daemon/status-readings.ts). */
  readings: StatusReadings;
  isolation?: IsolationHost;
  /** Views built before, per agent (see ViewMemo); absent: built anew. */
  memo?: ViewMemo;
}

// A view is built again only when something it shows changed: the runner's status (compared
// field by field, nested ones too), the reading shown, the registry entry (replaced, never
// edited in place: registry-draft.ts), the declaration, the isolation and runtime of its
// last launch, the host's KSM. At N = 200 building every view (home paths, isolation text)
// was ~1.5 ms of each status call while almost nothing changes between two polls. The
// clock-dependent figures (uptime, healthy for) are added per call.
/** Views built before, per agent (one per fleet; createViewMemo). */
export type ViewMemo = WeakMap<Agent, MemoizedView>;

/** What a view was built from, and the view (its clock-dependent figures and its reading's left to the caller). */
export interface MemoizedView {
  status: RunnerStatus;
  entry: Readonly<RegistryEntry> | undefined;
  desired: DesiredAgent;
  isolation: Agent['isolation'];
  runtimeVersions: Agent['runtimeVersions'];
  ksm: IsolationHost['ksm'] | undefined;
  stateDir: string;
  /** The view with no reading: its reading's figures (rssBytes, cpuSeconds, the isolation's usage) null; see ReadingFigures. */
  view: AgentView;
  /** The view as redacted JSON text without its clock-dependent figures, its reading's and its closing brace (agentViewsJson), and the matcher (and its version) it was redacted with; null until asked. */
  json: { secrets: SecretMatcher; version: number; text: string } | null;
  /** The figures of the reading last shown with this view; null until asked. */
  figures: ReadingFigures | null;
}

// The figures a reading gives a view (the tree's RSS and CPU, the cgroup's memory, CPU, pids
// and OOM kills) change at every refresh of the readings, once a second while status is
// polled. Kept inside the view, they made the next request after each refresh build every
// view and redact its text again: 30-50 ms of fleetd's thread at N = 200 once a second, which
// a kill -9 or a probe landing then waited behind (issue 14's kill timeline). They are kept
// beside the view now, with their own JSON text, made again only for a new reading. They are
// numbers, and words made from numbers and fixed enums (memory.text, memory.source): nothing
// there can hold a secret, so that text is not passed through the matcher.
/** One reading's figures for one view, and their JSON text (not redacted: see above). */
export interface ReadingFigures {
  reading: StatusReading | undefined;
  rssBytes: number | null;
  cpuSeconds: number | null;
  /** The isolation view's usage members (absent: the agent has no isolation). */
  usage?: Pick<NonNullable<AgentView['isolation']>, 'memory' | 'cpuSeconds' | 'pids' | 'oomKills'>;
  /** `,"rssBytes":..,"cpuSeconds":..` */
  topText: string;
  /** `"memory":{..},"cpuSeconds":..,"pids":{..},"oomKills":..` (empty without isolation). */
  usageText: string;
}

/** An empty memo. */
export function createViewMemo(): ViewMemo {
  return new WeakMap();
}

/** Status of `chosen`, sorted by address, each with the reading taken in its current state (or none: null figures). */
export function agentViews(chosen: readonly Agent[], ctx: ViewsContext): AgentView[] {
  return byAddress(chosen).map((agent) => {
    const memo = currentView(agent, ctx);
    const { view, status } = memo;
    const figures = figuresOf(agent, memo, ctx);
    return {
      ...view,
      rssBytes: figures.rssBytes,
      cpuSeconds: figures.cpuSeconds,
      ...(view.isolation && figures.usage ? { isolation: { ...view.isolation, ...figures.usage } } : {}),
      uptimeMs: uptimeOf(status, ctx.now),
      healthyForMs: healthyForOf(status, ctx.now),
    };
  });
}

// A monitor polling status (the benchmark every 2 ms, a dashboard) got the views of 200
// agents serialized and redacted anew on each call: every string of every view through the
// secret matcher, ~4-7 ms of fleetd's one thread per call at N = 200 (of ~7-10 ms per call),
// so exits, spawns and probes waited behind each poll. A view's text changes only when its
// view does (a new MemoizedView) or the secrets do (the matcher's version): it is kept with
// the view, and a call joins the texts, adding only uptime and healthy-for.
/** agentViews as a JSON array (the same views, each redacted with `secrets`), from each unchanged view's text kept from before. */
export function agentViewsJson(chosen: readonly Agent[], ctx: ViewsContext, secrets: SecretMatcher): string {
  const parts = byAddress(chosen).map((agent) => {
    const memo = currentView(agent, ctx);
    const figures = figuresOf(agent, memo, ctx);
    return `${viewText(memo, secrets)}${figures.usageText}${figures.topText},"uptimeMs":${JSON.stringify(uptimeOf(memo.status, ctx.now))},"healthyForMs":${JSON.stringify(healthyForOf(memo.status, ctx.now))}}`;
  });
  return `[${parts.join(',')}]`;
}

/**
 * The redacted JSON text of a memoized view without uptime, healthy-for, its reading's figures
 * and its closing brace, kept while the view and the secrets stay. With isolation it ends
 * inside the isolation object, before its usage members (`,"isolation":{"cgroup":..,"merge":..,`):
 * the figures' usageText and `}` close it.
 */
function viewText(memo: MemoizedView, secrets: SecretMatcher): string {
  const kept = memo.json;
  if (kept && kept.secrets === secrets && kept.version === secrets.version) return kept.text;
  const { isolation } = memo.view;
  let text = stringifyRedacted({ ...memo.view, rssBytes: undefined, cpuSeconds: undefined, isolation: undefined, uptimeMs: undefined, healthyForMs: undefined }, secrets).slice(0, -1);
  if (isolation) text += `,"isolation":${stringifyRedacted({ ...isolation, memory: undefined, cpuSeconds: undefined, pids: undefined, oomKills: undefined }, secrets).slice(0, -1)},`;
  memo.json = { secrets, version: secrets.version, text };
  return text;
}

/** The figures of the reading `agent` shows now with `memo`'s view: the last ones while the reading is the same (see ReadingFigures). */
function figuresOf(agent: Agent, memo: MemoizedView, ctx: ViewsContext): ReadingFigures {
  const reading = ctx.readings.shown(agent.address, stateKey(memo.status));
  const last = memo.figures;
  if (last && last.reading === reading) return last;
  const tree = reading?.tree ?? null;
  const rssBytes = tree?.rssBytes ?? null;
  const cpuSeconds = tree?.cpuSeconds ?? null;
  const topText = `,"rssBytes":${JSON.stringify(rssBytes)},"cpuSeconds":${JSON.stringify(cpuSeconds)}`;
  // a view has isolation exactly when its agent had (buildView); the usage closes the object viewText left open
  const full = memo.isolation ? isolationViewOf(memo.isolation, ctx.isolation, rssBytes, memo.status.pid !== null, reading) : undefined;
  const usage = full ? { memory: full.memory, cpuSeconds: full.cpuSeconds, pids: full.pids, oomKills: full.oomKills } : undefined;
  memo.figures = usage ? { reading, rssBytes, cpuSeconds, usage, topText, usageText: `${JSON.stringify(usage).slice(1, -1)}}` } : { reading, rssBytes, cpuSeconds, topText, usageText: '' };
  return memo.figures;
}

function byAddress(chosen: readonly Agent[]): Agent[] {
  return [...chosen].sort((a, b) => (a.address < b.address ? -1 : 1));
}

function uptimeOf(status: RunnerStatus, now: number): number | null {
  return status.spawnedAt !== null ? now - status.spawnedAt : null;
}

function healthyForOf(status: RunnerStatus, now: number): number | null {
  return status.runningSince !== null ? now - status.runningSince : null;
}

/** The memoized view of `agent` now: the last one when nothing it shows changed, else built anew. */
function currentView(agent: Agent, ctx: ViewsContext): MemoizedView {
  const status = agent.status();
  const last = ctx.memo?.get(agent);
  return last && last.entry === agent.entry && last.desired === agent.desired && last.isolation === agent.isolation && last.runtimeVersions === agent.runtimeVersions && last.ksm === ctx.isolation?.ksm && last.stateDir === ctx.stateDir && sameData(last.status, status)
    ? last
    : buildView(agent, status, ctx);
}

/** Builds (and memoizes) one agent's view, with no reading (figuresOf adds it); uptime and healthy-for are the caller's. */
function buildView(agent: Agent, status: RunnerStatus, ctx: ViewsContext): MemoizedView {
  // kept in the memo until something it shows changes: merged, not spread (util/merge.ts)
  const view: AgentView = merge(
    toAgentView({ desired: agent.desired, entry: agent.entry, home: agentPaths(ctx.stateDir, agent.desired.fleet, agent.desired.agent).home, status, usage: null, now: ctx.now }),
    agent.isolation ? { isolation: isolationViewOf(agent.isolation, ctx.isolation, null, status.pid !== null, undefined) } : {},
    versionsOf(agent),
  );
  const memo: MemoizedView = { status, entry: agent.entry, desired: agent.desired, isolation: agent.isolation, runtimeVersions: agent.runtimeVersions, ksm: ctx.isolation?.ksm, stateDir: ctx.stateDir, view, json: null, figures: null };
  ctx.memo?.set(agent, memo);
  return memo;
}

/** What it runs: the runtime its launch was prepared with; before any, the declared pin (Node unknown until installed). */
function versionsOf(agent: Agent): { openclaw: string | null; node: string | null } {
  if (agent.runtimeVersions) return agent.runtimeVersions;
  const launch = agent.desired.launch;
  return launch.kind === 'openclaw' ? { openclaw: launch.version, node: launch.node ?? null } : { openclaw: null, node: null };
}

/** The isolation view of an agent: memory from its cgroup's reading when there is one, else its tree's RSS; never throws. */
function isolationViewOf(iso: { spec: AgentIsolationSpec; cgroup?: AgentCgroup }, host: IsolationHost | undefined, treeRssBytes: number | null, running: boolean, reading: StatusReading | undefined): NonNullable<AgentView['isolation']> {
  try {
    return agentIsolationView({ spec: iso.spec, cgroup: iso.cgroup, ksm: host?.ksm, treeRssBytes, running, usage: reading?.cgroup ?? null });
  } catch {
    return agentIsolationView({ spec: iso.spec, treeRssBytes, running });
  }
}
