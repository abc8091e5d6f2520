import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ListenerOwner } from '../supervise/listener-owner.js';
import type { ProbeResult } from '../supervise/probe.js';
import { judgeStart } from './start-verdict.js';

const PORT = 20100;
const socket = { inode: 7, address: '127.0.0.1', port: PORT, uid: 1000 };
const ours: ListenerOwner = { owner: 'agent', pid: 41, sockets: [socket] };
const live = (startup?: ProbeResult['startup']): ProbeResult => ({ live: true, ready: true, ...(startup ? { startup } : {}) });

test('a start succeeds only when the agent owns the listener AND /startupz says started', () => {
  const cases: Array<[string, ProbeResult, ListenerOwner, string, RegExp]> = [
    ['ours and started', live({ state: 'started', detail: '/startupz: started' }), ours, 'started', /^pid 41 listens on port 20100; \/startupz: started$/],
    ['ours, still starting', live({ state: 'starting', detail: '/startupz: starting (plugins)' }), ours, 'starting', /starting \(plugins\)/],
    ['ours, draining', live({ state: 'draining', detail: '/startupz: draining' }), ours, 'starting', /draining/],
    ['ours, /startupz silent', live({ state: 'no-answer', detail: '/startupz: no answer within 2000 ms' }), ours, 'starting', /no answer/],
    ['ours, no /startupz at all (not OpenClaw): liveness decides', live({ state: 'absent', detail: 'x' }), ours, 'started', /\/healthz answers \(no \/startupz\)/],
    ['ours, no /startupz and not live', { live: false, ready: null, error: 'ECONNREFUSED', startup: { state: 'absent', detail: 'x' } }, ours, 'starting', /ECONNREFUSED/],
    ['a stranger answers 200 everywhere', live({ state: 'started', detail: '/startupz: started' }), { owner: 'stranger', pid: 4242, command: 'python3', socket }, 'foreign', /^port 20100 is held by pid 4242 \(python3\), not by this agent's gateway$/],
    ['a holder fleetd cannot see', live({ state: 'started', detail: '' }), { owner: 'unknown', socket: { ...socket, uid: 1001 } }, 'foreign', /cannot see, of uid 1001/],
    ['nothing listens yet', { live: false, ready: null }, { owner: 'none' }, 'starting', /nothing listens on port 20100 yet/],
  ];
  for (const [name, probe, listener, state, reason] of cases) {
    const verdict = judgeStart({ probe, listener, port: PORT });
    assert.equal(verdict.state, state, name);
    assert.match(verdict.reason, reason, name);
  }
});
