import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatEvent } from './events.js';

test('agent.exit lines: a signal, a code, or neither (could not start, or the shim was lost): never "code null"', () => {
  const base = { type: 'agent.exit' as const, address: 'acme/a', pid: 42, runtimeMs: 2500, seq: 7, at: Date.UTC(2026, 11, 1, 12, 0, 0) };
  assert.equal(formatEvent({ ...base, code: null, signal: 'SIGKILL' }), '2026-12-01 12:00:00Z #7 agent.exit acme/a: pid 42 killed by SIGKILL after 2.5 s');
  assert.equal(formatEvent({ ...base, code: 3, signal: null }), '2026-12-01 12:00:00Z #7 agent.exit acme/a: pid 42 exited with code 3 after 2.5 s');
  assert.equal(formatEvent({ ...base, code: null, signal: null }), '2026-12-01 12:00:00Z #7 agent.exit acme/a: pid 42 ended without an exit status (it could not start, or its shim was lost) after 2.5 s');
});
