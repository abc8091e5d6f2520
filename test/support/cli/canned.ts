// Canned wire bodies for the CLI tests, valid against src/protocol/schemas.ts.
import type { AgentView, ResponseBody } from '../../../src/protocol/schemas.js';

/** An agent view with overridable fields. */
export function agentView(address: string, overrides: Partial<AgentView> = {}): AgentView {
  const [fleet = '', agent = ''] = address.split('/');
  return {
    address,
    fleet,
    agent,
    source: 'manifest',
    enabled: true,
    desired: 'running',
    state: 'running',
    reason: 'ready',
    since: 1_700_000_000_000,
    pid: 4242,
    port: 18800,
    home: `/tmp/fleet/${fleet}/${agent}`,
    uptimeMs: 3_723_000,
    healthyForMs: 3_715_000,
    restarts: 0,
    lastExit: null,
    health: { live: true, ready: true },
    rssBytes: 512 * 1024 * 1024,
    nextStartAt: null,
    runtime: '2026.9.6',
    ...overrides,
  };
}

/** A status answer with three agents, deliberately not sorted by address. */
export function statusBody(): ResponseBody<'status'> {
  return {
    daemon: { pid: 100, version: '0.1.0', manifest: '/tmp/fleets.json5', stateDir: '/tmp/state', socket: '/tmp/s.sock', startedAt: 1_700_000_000_000, rssBytes: 50_000_000, registryBehind: null },
    agents: [
      agentView('beta/zed', { port: 19000, pid: 5151 }),
      agentView('acme/korax', {
        state: 'backoff',
        reason: 'exited with code 1',
        pid: null,
        uptimeMs: null,
        healthyForMs: null,
        restarts: 3,
        lastExit: { code: 1, signal: null, at: 1_700_000_000_000, runtimeMs: 2000 },
        health: { live: null, ready: null },
        rssBytes: null,
        port: 18900,
        openclaw: '2026.9.6',
        node: '24.21.0',
      }),
      agentView('acme/alpha', { health: { live: true, ready: false, failing: ['discord'] }, reason: 'waiting for readiness', state: 'starting', healthyForMs: null }),
    ],
  };
}
