// Connects the metrics module to this fleetd: the scrape snapshot from the fleet's views
// (state, restarts, uptime, exits, health, tree RSS and CPU, OpenClaw and Node versions)
// and the rollout; the probe wrapper that times health probes.
import type { Server } from 'node:http';
import type { AgentSample } from '../metrics/collect.js';
import { parseListen } from '../metrics/listen.js';
import type { ProbeFn } from '../supervise/probe.js';
import type { UpgradeController } from '../upgrade/controller.js';
import { VERSION } from '../version.js';
import type { EventBus } from './events.js';
import type { Fleet } from './fleet.js';
import type { Logger } from './logger.js';
import { firstUse } from '../util/first-use.js';

/** Wraps a probe so each call's duration and result are reported (seconds). */
export function timedProbe(address: string, probe: ProbeFn, observe: (address: string, seconds: number, live: boolean) => void): ProbeFn {
  return async (port, timeoutMs) => {
    const started = process.hrtime.bigint();
    const result = await probe(port, timeoutMs);
    observe(address, Number(process.hrtime.bigint() - started) / 1e9, result.live);
    return result;
  };
}

/** Builds one scrape's agents from the fleet's views (the same figures as `fleetctl status`, read fresh when no status call keeps them so). */
export async function sampleAgents(fleet: Fleet): Promise<AgentSample[]> {
  return (await fleet.statusViews()).map((v) => {
    return {
      address: v.address,
      fleet: v.fleet,
      state: v.state,
      runtime: v.runtime,
      openclaw: v.openclaw ?? null,
      node: v.node ?? null,
      restarts: v.restarts,
      uptimeSeconds: v.uptimeMs === null ? null : v.uptimeMs / 1000,
      lastExit: v.lastExit ? { code: v.lastExit.code, signal: v.lastExit.signal } : null,
      live: v.health.live,
      ready: v.health.ready,
      rssBytes: v.rssBytes,
      cpuSeconds: v.cpuSeconds ?? null,
    };
  });
}

/** Starts the metrics endpoint of this fleetd; `observeProbe` goes to the runners' timed probes. */
export async function startFleetMetrics(o: { fleet: Fleet; upgrades: UpgradeController; listen: string; logger: Logger; events: EventBus }): Promise<{ server: Server; observeProbe: (address: string, seconds: number, live: boolean) => void }> {
  const address = parseListen(o.listen);
  if (typeof address === 'string') throw new Error(`internal: metrics.listen passed validation but ${address}`);
  // loaded only when metrics are on: prom-client adds ~12 MB to fleetd's RSS
  const [{ createMetrics }, { startMetricsServer }] = await firstUse('/metrics', () => Promise.all([import('../metrics/collect.js'), import('../metrics/server.js')]));
  const metrics = createMetrics(async () => ({ agents: await sampleAgents(o.fleet), rollout: o.upgrades.status().rollout }), { version: VERSION });
  o.events.subscribe((e) => metrics.eventPublished(e.type));
  const server = await startMetricsServer(address, () => metrics.text(), metrics.registry.contentType, o.logger);
  return { server, observeProbe: metrics.probeObserved };
}
