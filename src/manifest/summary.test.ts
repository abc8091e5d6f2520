// Counts printed by `fleetd validate`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseManifest } from './load.js';
import { formatSummary, summarizeManifest } from './summary.js';

test('counts fleets, agents and enabled agents', () => {
  const m = parseManifest(
    '{ version: 1, fleets: { a: { agents: { x: {}, y: { enabled: false } } }, b: { agents: { z: {} } }, c: {} } }',
    '/srv/m.json5',
  );
  assert.deepEqual(summarizeManifest(m), { fleets: 3, agents: 3, enabledAgents: 2 });
});

test('an empty manifest counts zero', () => {
  assert.deepEqual(summarizeManifest(parseManifest('{ version: 1 }', '/srv/m.json5')), { fleets: 0, agents: 0, enabledAgents: 0 });
});

test('formatSummary', () => {
  assert.equal(formatSummary({ fleets: 1, agents: 1, enabledAgents: 1 }), '1 fleet, 1 agent');
  assert.equal(formatSummary({ fleets: 2, agents: 5, enabledAgents: 3 }), '2 fleets, 5 agents (3 enabled)');
  assert.equal(formatSummary({ fleets: 0, agents: 0, enabledAgents: 0 }), '0 fleets, 0 agents');
});
