// The watch wheel on fake timers: one timer per period whatever the number of members,
// each member's first turn within one period of joining, then one per period; leaving
// (also in the middle of a turn) is final and the last one out disarms the period.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWatchWheel } from './watch-wheel.js';
import { manualTime } from '../../test/support/manual-time.js';

test('members of one period share its timer: first turn within one period of joining, then one per period', () => {
  const t = manualTime();
  const wheel = createWatchWheel(t);
  const turns: Array<[string, number]> = [];
  wheel.join(1000, () => turns.push(['a', t.now()]));
  t.advance(400);
  wheel.join(1000, () => turns.push(['b', t.now()]));
  wheel.join(3000, () => turns.push(['slow', t.now()]));
  assert.equal(t.pending(), 2, 'one timer per period');
  t.advance(2600);
  assert.deepEqual(turns, [['a', 1000], ['b', 1000], ['a', 2000], ['b', 2000], ['a', 3000], ['b', 3000]]);
  t.advance(400);
  assert.deepEqual(turns.slice(6), [['slow', 3400]]);
  assert.equal(wheel.armed(), 2);
});

test('leaving is final, also in the middle of a turn; the last member out disarms its period', () => {
  const t = manualTime();
  const wheel = createWatchWheel(t);
  const turns: string[] = [];
  let leaveB: () => void = () => undefined;
  const leaveA = wheel.join(1000, () => {
    turns.push('a');
    leaveB(); // b leaves during this turn, before its own call
  });
  leaveB = wheel.join(1000, () => turns.push('b'));
  t.advance(1000);
  assert.deepEqual(turns, ['a']);
  leaveA();
  leaveA();
  assert.equal(wheel.armed(), 0);
  assert.equal(t.pending(), 0, 'no timer left behind');
  t.advance(5000);
  assert.deepEqual(turns, ['a']);
  // a new member gets a fresh timer, one period from its joining
  wheel.join(1000, () => turns.push('c'));
  t.advance(999);
  assert.deepEqual(turns, ['a']);
  t.advance(1);
  assert.deepEqual(turns, ['a', 'c']);
});

test('a member that throws does not keep the others of its turn from running; the error comes after them and the turns go on', () => {
  const t = manualTime();
  const wheel = createWatchWheel(t);
  const turns: string[] = [];
  wheel.join(1000, () => {
    turns.push('a');
    throw new Error('boom');
  });
  wheel.join(1000, () => turns.push('b'));
  assert.throws(() => t.advance(1000), /boom/);
  assert.deepEqual(turns, ['a', 'b']);
  assert.throws(() => t.advance(1000), /boom/);
  assert.deepEqual(turns, ['a', 'b', 'a', 'b']);
});

test('a period that is not positive is refused', () => {
  const wheel = createWatchWheel(manualTime());
  assert.throws(() => wheel.join(0, () => undefined), (err: Error & { code?: string }) => err.code === 'INTERNAL');
});
