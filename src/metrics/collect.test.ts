// The metrics registry rendered and read back with a Prometheus text-format parser: names,
// types, labels and values from a snapshot; agents that are gone disappear; served over HTTP
// on loopback only with the right content type.
import { AGENT_STATES } from '../plan/agent-states.js';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { parsePrometheus, sampleValue } from '../../test/support/prometheus.js';
import { planRollout } from '../plan/rollout.js';
import { createMetrics, exitCodeValue, type AgentSample, type MetricsSnapshot } from './collect.js';
import { isLoopback, parseListen } from './listen.js';
import { startMetricsServer } from './server.js';

const agent = (over: Partial<AgentSample>): AgentSample => ({
  address: 'acme/a', fleet: 'acme', state: 'running', runtime: 'openclaw@2026.9.6', openclaw: '2026.9.6', node: '26.12.1',
  restarts: 0, uptimeSeconds: 12.5, lastExit: null, live: true, ready: true, rssBytes: 850_000_000, cpuSeconds: 9.25, ...over,
});

describe('fleetd metrics', () => {
  test('per-agent state one-hot, health, uptime, exits, memory, CPU, restarts; rollout progress; fleetd process metrics', async () => {
    const rollout = planRollout({ id: 'r1', source: 'reload', scope: 'acme', candidates: [{ address: 'acme/a', fleet: 'acme', from: '2026.9.5', to: '2026.9.6', running: true }, { address: 'acme/b', fleet: 'acme', from: '2026.9.5', to: '2026.9.6', running: true }], settingsOf: () => ({ maxParallel: 1, readyTimeoutMs: 1 }), now: 0 });
    rollout.state = 'running';
    rollout.agents[0]!.phase = 'done';
    let snap: MetricsSnapshot = {
      agents: [agent({ restarts: 3 }), agent({ address: 'acme/b', state: 'backoff', live: null, ready: null, uptimeSeconds: null, lastExit: { code: null, signal: 'SIGKILL' }, rssBytes: null, cpuSeconds: null })],
      rollout,
    };
    const m = createMetrics(() => snap, { version: '0.1.0' });
    m.probeObserved('acme/a', 0.012, true);
    m.eventPublished('agent.state');
    const f = parsePrometheus(await m.text());
    assert.equal(f.get('fleetd_agent_state')?.type, 'GAUGE');
    assert.equal(sampleValue(f, 'fleetd_agent_state', { agent: 'acme/a', state: 'running' }), 1);
    assert.equal(sampleValue(f, 'fleetd_agent_state', { agent: 'acme/a', state: 'failed' }), 0);
    assert.equal(sampleValue(f, 'fleetd_agent_state', { agent: 'acme/b', state: 'backoff' }), 1);
    assert.equal(f.get('fleetd_agent_state')?.metrics.length, 2 * AGENT_STATES.length, 'every state of the one list for each of two agents');
    assert.equal(sampleValue(f, 'fleetd_agent_state', { agent: 'acme/a', state: 'reconfiguring' }), 0);
    assert.equal(sampleValue(f, 'fleetd_agent_up', { agent: 'acme/a' }), 1);
    assert.equal(sampleValue(f, 'fleetd_agent_up', { agent: 'acme/b' }), undefined, 'not probed: absent, not 0');
    assert.equal(sampleValue(f, 'fleetd_agent_ready', { agent: 'acme/a' }), 1);
    assert.equal(sampleValue(f, 'fleetd_agent_uptime_seconds', { agent: 'acme/a' }), 12.5);
    assert.equal(sampleValue(f, 'fleetd_agent_last_exit_code', { agent: 'acme/b' }), 137, 'SIGKILL as 128+9');
    assert.equal(sampleValue(f, 'fleetd_agent_memory_rss_bytes', { agent: 'acme/a' }), 850_000_000);
    assert.equal(f.get('fleetd_agent_restarts_total')?.type, 'COUNTER');
    assert.equal(sampleValue(f, 'fleetd_agent_restarts_total', { agent: 'acme/a' }), 3);
    assert.equal(sampleValue(f, 'fleetd_agent_restarts_total', { agent: 'acme/b' }), 0, 'a total of 0 is a sample, not an absent series');
    assert.equal(sampleValue(f, 'fleetd_agent_cpu_seconds_total', { agent: 'acme/b' }), undefined, 'no process: absent');
    assert.equal(sampleValue(f, 'fleetd_agent_cpu_seconds_total', { agent: 'acme/a' }), 9.25);
    assert.equal(sampleValue(f, 'fleetd_agent_info', { agent: 'acme/a', openclaw: '2026.9.6', node: '26.12.1' }), 1);
    assert.equal(f.get('fleetd_agent_probe_duration_seconds')?.type, 'HISTOGRAM');
    assert.equal(f.get('fleetd_agent_probe_duration_seconds')?.metrics[0]?.buckets?.['+Inf'], '1', 'one probe observed');
    assert.equal(sampleValue(f, 'fleetd_rollout_active'), 1);
    assert.equal(sampleValue(f, 'fleetd_rollout_agents', { rollout: 'r1', progress: 'done' }), 1);
    assert.equal(sampleValue(f, 'fleetd_rollout_agents', { rollout: 'r1', progress: 'pending' }), 1);
    assert.equal(sampleValue(f, 'fleetd_events_total', { type: 'agent.state' }), 1);
    assert.equal(sampleValue(f, 'fleetd_build_info', { version: '0.1.0' }), 1);
    assert.ok((sampleValue(f, 'fleetd_process_resident_memory_bytes') ?? 0) > 0, 'fleetd\'s own process metrics');
    assert.ok(f.has('fleetd_process_cpu_seconds_total'));

    // an agent removed since: its series are gone at the next scrape; restarts follow the runner's count
    snap = { agents: [agent({ restarts: 4 })], rollout: null };
    const g = parsePrometheus(await m.text());
    assert.equal(sampleValue(g, 'fleetd_agent_state', { agent: 'acme/b', state: 'backoff' }), undefined);
    assert.equal(sampleValue(g, 'fleetd_agent_restarts_total', { agent: 'acme/a' }), 4);
    assert.equal(sampleValue(g, 'fleetd_rollout_active'), 0);
    assert.equal(g.get('fleetd_rollout_agents')?.metrics.length ?? 0, 0);
  });

  test('exit codes: the code, or 128 + signal number', () => {
    assert.equal(exitCodeValue({ code: 78, signal: null }), 78);
    assert.equal(exitCodeValue({ code: null, signal: 'SIGTERM' }), 143);
    assert.equal(exitCodeValue({ code: null, signal: 'SIGNOPE' }), null);
  });
});

describe('listen addresses', () => {
  test('parsed with a loopback flag; names and bad ports refused', () => {
    assert.deepEqual(parseListen('127.0.0.1:9464'), { host: '127.0.0.1', port: 9464, loopback: true });
    assert.deepEqual(parseListen('[::1]:9464'), { host: '::1', port: 9464, loopback: true });
    assert.deepEqual(parseListen('10.0.0.5:9464'), { host: '10.0.0.5', port: 9464, loopback: false });
    assert.deepEqual(parseListen('[::]:9464'), { host: '::', port: 9464, loopback: false });
    for (const bad of ['9464', 'host:9464', '[::1]', '127.0.0.1:70000', '[nope]:1', '127.0.0.1:']) assert.equal(typeof parseListen(bad), 'string', bad);
    assert.equal(isLoopback('127.8.9.10'), true);
  });
});

/** GET over HTTP on loopback. */
function get(port: number, path: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('metrics server', () => {
  test('GET /metrics answers the exposition; other paths 404, other methods 405; a busy port is a clear error', async () => {
    const m = createMetrics(() => ({ agents: [agent({})], rollout: null }), { version: 'x' });
    const server = await startMetricsServer({ host: '127.0.0.1', port: 0, loopback: true }, () => m.text(), m.registry.contentType);
    try {
      const port = (server.address() as { port: number }).port;
      const ok = await get(port, '/metrics');
      assert.equal(ok.status, 200);
      assert.match(ok.type, /^text\/plain; version=0\.0\.4/);
      assert.equal(sampleValue(parsePrometheus(ok.body), 'fleetd_agent_up', { agent: 'acme/a' }), 1);
      assert.equal((await get(port, '/')).status, 404);
      assert.equal((await get(port, '/metrics', 'POST')).status, 405);
      await assert.rejects(startMetricsServer({ host: '127.0.0.1', port, loopback: true }, () => m.text(), m.registry.contentType), /cannot serve metrics on 127\.0\.0\.1:\d+: .*EADDRINUSE.*change metrics\.listen/);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
