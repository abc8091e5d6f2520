import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AGENT_STATES, canStart, canTransition, hasProcess, isAlive, isSettled, isUp, TRANSITIONS } from './agent-states.js';

test('the transition table matches the diagram', () => {
  const allowed = AGENT_STATES.flatMap((from) => AGENT_STATES.filter((to) => canTransition(from, to)).map((to) => `${from}->${to}`));
  assert.deepEqual(allowed.sort(), [
    'backoff->starting',
    'backoff->stopped',
    'failed->starting',
    'failed->stopped',
    'reconfiguring->backoff',
    'reconfiguring->failed',
    'reconfiguring->running',
    'reconfiguring->stopping',
    'running->backoff',
    'running->failed',
    'running->reconfiguring',
    'running->stopping',
    'starting->backoff',
    'starting->failed',
    'starting->running',
    'starting->stopped',
    'starting->stopping',
    'stopped->running',
    'stopped->starting',
    'stopping->backoff',
    'stopping->failed',
    'stopping->starting',
    'stopping->stopped',
  ]);
  assert.equal(Object.keys(TRANSITIONS).length, AGENT_STATES.length);
  assert.deepEqual(AGENT_STATES.filter(canStart), ['stopped', 'backoff', 'failed']);
  assert.deepEqual(AGENT_STATES.filter(hasProcess), ['starting', 'running', 'stopping', 'reconfiguring']);
  assert.deepEqual(AGENT_STATES.filter(isSettled), ['stopped', 'running', 'backoff', 'failed']);
  assert.deepEqual(AGENT_STATES.filter(isAlive), ['starting', 'running', 'backoff', 'stopping', 'reconfiguring']);
  assert.deepEqual(AGENT_STATES.filter(isUp), ['running', 'reconfiguring']);
});
