// The NOT_FOUND message for an unknown agent or fleet: the fleet's agents, or the fleets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unknownTarget } from './unknown-address.js';

const known = ['acme/korax', 'acme/alpha', 'globex/one'];

test('unknown agent of a known fleet: that fleet\'s agents, sorted', () => {
  const err = unknownTarget('acme/nobody', known);
  assert.equal(err.code, 'NOT_FOUND');
  assert.equal(err.message, 'no agent acme/nobody; agents of acme: alpha, korax (`fleetctl status` lists every agent)');
});

test('agent of an unknown fleet, and an unknown fleet: the fleets', () => {
  assert.equal(unknownTarget('zeta/x', known).message, 'no agent zeta/x; no fleet zeta either; fleets: acme, globex (`fleetctl status` lists every agent)');
  assert.equal(unknownTarget('zeta', known).message, 'no fleet zeta; fleets: acme, globex (`fleetctl status` lists every agent)');
  assert.equal(unknownTarget('zeta', []).message, 'no fleet zeta; fleets: (none) (`fleetctl status` lists every agent)');
});

test('brief: at most 8 names, the rest counted; a fleet id prefixing another is not its member', () => {
  const many = Array.from({ length: 11 }, (_, i) => `big/a${String(i).padStart(2, '0')}`);
  assert.match(unknownTarget('big/x', [...many, 'bigger/y']).message, /agents of big: a00, a01, a02, a03, a04, a05, a06, a07 and 3 more \(/);
});
