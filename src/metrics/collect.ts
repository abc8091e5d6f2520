// The Prometheus metrics of one fleetd (prom-client, the de-facto Node client: exposition
// format, counters/gauges/histograms and process metrics done right, instead of
// hand-writing the text format). Values are read at scrape time from a snapshot function
// the daemon supplies (agent views, rollout), so this module needs no access to the core.
// Per-agent series of agents that are gone disappear at the next scrape.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { constants } from 'node:os';
import { AGENT_STATES } from '../plan/agent-states.js';
import type { AgentState } from '../supervise/types.js';
import type { RolloutRecord } from '../protocol/rollout.js';
import { rolloutProgress, isActive } from '../plan/rollout.js';

/** Every state, one series each (one-hot: 1 for the current state). */
const STATES: readonly AgentState[] = AGENT_STATES;

/** What the daemon reports per agent at scrape time. */
export interface AgentSample {
  address: string;
  fleet: string;
  state: AgentState;
  /** Launch as people read it (`openclaw@2026.9.6`, or the command). */
  runtime: string;
  openclaw: string | null;
  node: string | null;
  restarts: number;
  uptimeSeconds: number | null;
  lastExit: { code: number | null; signal: string | null } | null;
  live: boolean | null;
  ready: boolean | null;
  rssBytes: number | null;
  cpuSeconds: number | null;
}

/** One scrape's input. */
export interface MetricsSnapshot {
  agents: AgentSample[];
  rollout: RolloutRecord | null;
}

/** Shell convention for a signal death: 128 + its number (SIGKILL -> 137). */
export function exitCodeValue(exit: { code: number | null; signal: string | null }): number | null {
  if (exit.code !== null) return exit.code;
  const n = exit.signal ? (constants.signals as Record<string, number>)[exit.signal] : undefined;
  return n === undefined ? null : 128 + n;
}

/** Builds the registry; `probeObserved` is what the probe wrapper calls after each health probe. */
export function createMetrics(snapshot: () => MetricsSnapshot | Promise<MetricsSnapshot>, options: { version: string; prefix?: string } = { version: '0' }) {
  const p = options.prefix ?? 'fleetd_';
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: p });
  // one snapshot per scrape, taken before the collectors run (text())
  let current: MetricsSnapshot = { agents: [], rollout: null };

  new Gauge({ name: `${p}build_info`, help: 'fleetd version (value 1)', labelNames: ['version'], registers: [registry] }).set({ version: options.version }, 1);

  const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge<string>, s: MetricsSnapshot) => void) =>
    new Gauge({
      name: `${p}${name}`,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        fill(this, current);
      },
    });
  const counter = (name: string, help: string, fill: (s: MetricsSnapshot) => Array<[Record<string, string>, number]>) =>
    new Counter({
      name: `${p}${name}`,
      help,
      labelNames: ['agent', 'fleet'],
      registers: [registry],
      collect() {
        this.reset(); // totals kept by the runners and /proc: set to their current values
        // a total of 0 is a sample too: a counter that appears only once it moves hides its agent
        for (const [labels, value] of fill(current)) if (value >= 0) this.inc(labels, value);
      },
    });
  const per = (s: MetricsSnapshot, value: (a: AgentSample) => number | null) =>
    s.agents.flatMap((a) => {
      const v = value(a);
      return v === null ? [] : [[{ agent: a.address, fleet: a.fleet }, v] as [Record<string, string>, number]];
    });
  const bool = (b: boolean | null) => (b === null ? null : b ? 1 : 0);

  gauge('agent_info', 'An agent and what it runs (value 1)', ['agent', 'fleet', 'runtime', 'openclaw', 'node'], (g, s) => {
    for (const a of s.agents) g.set({ agent: a.address, fleet: a.fleet, runtime: a.runtime, openclaw: a.openclaw ?? '', node: a.node ?? '' }, 1);
  });
  gauge('agent_state', 'Agent state, one series per state: 1 for the current one', ['agent', 'fleet', 'state'], (g, s) => {
    for (const a of s.agents) for (const state of STATES) g.set({ agent: a.address, fleet: a.fleet, state }, a.state === state ? 1 : 0);
  });
  const simple = (name: string, help: string, value: (a: AgentSample) => number | null) =>
    gauge(name, help, ['agent', 'fleet'], (g, s) => {
      for (const [labels, v] of per(s, value)) g.set(labels, v);
    });
  simple('agent_up', 'Gateway answers /healthz (1), does not (0); absent while not running', (a) => bool(a.live));
  simple('agent_ready', 'Gateway /readyz answers 200 (1), 503 (0); absent while not probed', (a) => bool(a.ready));
  simple('agent_uptime_seconds', 'Seconds since the gateway became healthy; absent while not running', (a) => a.uptimeSeconds);
  simple('agent_last_exit_code', 'Exit code of the last gateway process (128+N for signal N); absent before the first exit', (a) => (a.lastExit ? exitCodeValue(a.lastExit) : null));
  simple('agent_memory_rss_bytes', 'Resident memory of the gateway\'s whole process tree', (a) => a.rssBytes);
  counter('agent_restarts_total', 'Restarts of the agent (crash, hang, operator), kept across restarts of fleetd', (s) => per(s, (a) => a.restarts));
  counter('agent_cpu_seconds_total', 'CPU time (user+system) of the gateway\'s process tree, including reaped children', (s) => per(s, (a) => a.cpuSeconds));
  const probes = new Histogram({
    name: `${p}agent_probe_duration_seconds`,
    help: 'Duration of the health probe rounds fleetd makes (a ready gateway watched by its native shim has none until a check fails)',
    labelNames: ['agent', 'fleet', 'result'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });

  gauge('rollout_active', 'A rollout is installing or moving agents (1) or not (0)', [], (g, s) => g.set(isActive(s.rollout) ? 1 : 0));
  gauge('rollout_agents', 'Agents of the active or last rollout by progress', ['rollout', 'target', 'progress'], (g, s) => {
    if (!s.rollout) return;
    const pr = rolloutProgress(s.rollout);
    const labels = { rollout: s.rollout.id, target: s.rollout.targets.join(',') };
    for (const [progress, value] of [['done', pr.done], ['pending', pr.pending], ['in_progress', pr.inFlight], ['failed', pr.failed], ['passive', pr.passive]] as const) g.set({ ...labels, progress }, value);
  });
  gauge('rollout_info', 'The active or last rollout and its state (value 1)', ['rollout', 'scope', 'target', 'state'], (g, s) => {
    if (s.rollout) g.set({ rollout: s.rollout.id, scope: s.rollout.scope, target: s.rollout.targets.join(','), state: s.rollout.state }, 1);
  });
  const events = new Counter({ name: `${p}events_total`, help: 'Events published, by type', labelNames: ['type'], registers: [registry] });

  return {
    registry,
    /** Records one health probe's duration (seconds) and result. */
    probeObserved(address: string, seconds: number, live: boolean): void {
      probes.observe({ agent: address, fleet: address.split('/')[0] ?? '', result: live ? 'live' : 'failed' }, seconds);
    },
    /** Counts one published event. */
    eventPublished(type: string): void {
      events.inc({ type });
    },
    /** Takes a snapshot and renders the text exposition (what GET /metrics answers). */
    async text(): Promise<string> {
      current = await snapshot();
      return registry.metrics();
    },
  };
}

/** The metrics object. */
export type FleetMetrics = ReturnType<typeof createMetrics>;
