import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FleetError } from '../errors.js';
import type { RegistryEntry, RegistryFile } from '../plan/types.js';
import { applyRegistryMutation } from './registry-draft.js';

function entry(fleet: string, agent: string, block: number, over: Partial<RegistryEntry> = {}): RegistryEntry {
  return { fleet, agent, source: 'manifest', block, port: 20000 + block * 100, token: block.toString(16).padStart(64, '0'), desired: 'running', createdAt: '2026-01-01T00:00:00.000Z', ...over };
}

/** A registry of `n` agents a0..a(n-1) in fleet f, deeply frozen: any edit in place throws. */
function frozenRegistry(n: number): RegistryFile {
  const agents: Record<string, RegistryEntry> = {};
  for (let i = 0; i < n; i++) agents[`f/a${i}`] = Object.freeze(entry('f', `a${i}`, i));
  return Object.freeze({ version: 1 as const, agents: Object.freeze(agents) });
}

function refused(pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof FleetError, String(err));
    assert.equal(err.code, 'INTERNAL');
    assert.match(err.message, pattern);
    return true;
  };
}

test('a change edits copies of the entries it touches; the memory copy and untouched entries stay as they were', () => {
  const mem = frozenRegistry(3);
  const next = applyRegistryMutation(mem, (r) => {
    r.agents['f/a1']!.desired = 'stopped';
    r.agents['f/a2']!.process = { pid: 42, pgid: 42, startTime: '7', spawnedAt: '2026-01-01T00:00:01.000Z' };
  });
  assert.equal(mem.agents['f/a1']!.desired, 'running');
  assert.equal(mem.agents['f/a2']!.process, undefined);
  assert.equal(next.agents['f/a1']!.desired, 'stopped');
  assert.equal(next.agents['f/a2']!.process?.pid, 42);
  assert.equal(next.agents['f/a0'], mem.agents['f/a0'], 'an untouched entry is shared, not copied');
  assert.notEqual(next.agents, mem.agents);
  assert.deepEqual(Object.keys(next.agents), ['f/a0', 'f/a1', 'f/a2']);
});

test('adding, deleting, iterating and reading-only all work through the draft', () => {
  const mem = frozenRegistry(2);
  const next = applyRegistryMutation(mem, (r) => {
    r.agents['f/new'] = entry('f', 'new', 7);
    delete r.agents['f/a0'];
    for (const e of Object.values(r.agents)) e.appliedHash = `h-${e.agent}`;
    assert.equal(Object.hasOwn(r.agents, 'f/a0'), false);
    assert.equal(Object.hasOwn(r.agents, 'constructor'), false);
  });
  assert.deepEqual(Object.keys(next.agents).sort(), ['f/a1', 'f/new']);
  assert.equal(next.agents['f/a1']!.appliedHash, 'h-a1');
  assert.equal(next.agents['f/new']!.appliedHash, 'h-new');
  assert.equal(applyRegistryMutation(mem, (r) => void r.agents['f/a0']).agents['f/a0']!.block, 0, 'a read alone changes nothing');
});

test('an invalid entry, a block held twice, a key that does not name its entry, a hooks token equal to the token: refused, nothing changed', () => {
  const mem = frozenRegistry(2);
  assert.throws(() => applyRegistryMutation(mem, (r) => void (r.agents['f/a0']!.port = 0)), refused(/agents\["f\/a0"\]\.port/));
  assert.throws(() => applyRegistryMutation(mem, (r) => void (r.agents['f/a1']!.block = 0)), refused(/block 0 is also held by f\/a0/));
  assert.throws(() => applyRegistryMutation(mem, (r) => void (r.agents['f/x'] = entry('f', 'y', 9))), refused(/key must be "f\/y"/));
  assert.throws(() => applyRegistryMutation(mem, (r) => void (r.agents['f/a0']!.hooksToken = r.agents['f/a0']!.token)), refused(/must differ from the gateway token/));
  assert.throws(() => applyRegistryMutation(mem, (r) => void ((r.agents['f/a0'] as unknown as Record<string, unknown>).extra = 1)), refused(/Unrecognized key/));
  assert.equal(mem.agents['f/a1']!.block, 1);
});

test('the cross-entry rules look at the touched entries, and at all of them once an entry is new or changes its block', () => {
  // a memory copy that breaks the block rule (it never does: it was checked when made) shows what is checked
  const agents: Record<string, RegistryEntry> = { 'f/a0': entry('f', 'a0', 0), 'f/a1': entry('f', 'a1', 0), 'f/a2': entry('f', 'a2', 2) };
  const mem: RegistryFile = { version: 1, agents };
  const next = applyRegistryMutation(mem, (r) => void (r.agents['f/a2']!.desired = 'stopped'));
  assert.equal(next.agents['f/a2']!.desired, 'stopped', 'a change that keeps every block does not scan the other entries');
  assert.throws(() => applyRegistryMutation(mem, (r) => void (r.agents['f/a2']!.block = 3)), refused(/block 0 is also held by f\/a0/));
  assert.throws(() => applyRegistryMutation(mem, (r) => void (r.agents['f/new'] = entry('f', 'new', 5))), refused(/block 0 is also held by f\/a0/));
  assert.throws(() => applyRegistryMutation(frozenRegistry(2), (r) => void (r.agents['f/new'] = entry('f', 'new', 1))), refused(/block 1 is also held by f\/a1/));
  assert.throws(() => applyRegistryMutation(mem, (r) => void (r.agents['f/a2']!.hooksToken = r.agents['f/a2']!.token)), refused(/must differ from the gateway token/));
});

test('a changed member is checked with its own schema, anything else with the whole entry schema: the same outcome and words', () => {
  const mem = frozenRegistry(2);
  const process = { pid: 42, pgid: 42, startTime: '7', spawnedAt: '2026-01-01T00:00:01.000Z' };
  const next = applyRegistryMutation(mem, (r) => {
    r.agents['f/a0']!.process = process;
    r.agents['f/a0']!.restarts = 3;
  });
  assert.deepEqual(next.agents['f/a0'], { ...mem.agents['f/a0'], process, restarts: 3 });
  assert.throws(() => applyRegistryMutation(mem, (r) => void (r.agents['f/a0']!.process = { ...process, pid: 0 })), refused(/agents\["f\/a0"\]\.process\.pid: Too small/));
  assert.throws(() => applyRegistryMutation(mem, (r) => void (r.agents['f/a0']!.restarts = -1)), refused(/agents\["f\/a0"\]\.restarts/));
  assert.throws(() => applyRegistryMutation(mem, (r) => void delete (r.agents['f/a0'] as Partial<RegistryEntry>).token), refused(/agents\["f\/a0"\]\.token/));
  assert.throws(() => applyRegistryMutation(mem, (r) => void ((r.agents['f/a0'] as Partial<RegistryEntry>).createdAt = undefined)), refused(/agents\["f\/a0"\]\.createdAt/));
  assert.throws(() => applyRegistryMutation(mem, (r) => void ((r.agents['f/a0'] as unknown as Record<string, unknown>).desired = 'paused')), refused(/agents\["f\/a0"\]\.desired/));
  assert.throws(() => applyRegistryMutation(mem, (r) => void (r.agents['f/a1'] = { ...r.agents['f/a1']!, port: 70000 })), refused(/agents\["f\/a1"\]\.port/), 'a replaced entry');
  const optionalGone = applyRegistryMutation(next, (r) => void delete r.agents['f/a0']!.process);
  assert.equal(optionalGone.agents['f/a0']!.process, undefined, 'an optional member may go');
});

test('a mutation that replaces the agents object or adds top-level keys gets the whole schema', () => {
  const mem = frozenRegistry(1);
  const replaced = applyRegistryMutation(mem, (r) => void (r.agents = { 'f/b': entry('f', 'b', 3) }));
  assert.deepEqual(Object.keys(replaced.agents), ['f/b']);
  assert.throws(() => applyRegistryMutation(mem, (r) => void ((r as unknown as Record<string, unknown>).extra = true)), refused(/Unrecognized key/));
  assert.throws(() => applyRegistryMutation(mem, (r) => void (r.agents = { 'f/b': entry('f', 'b', 3, { token: 'short' }) })), refused(/token/));
});

test('in place: the change edits the agents object it was given; touched entries are new objects, the old ones as they were', () => {
  const e0 = Object.freeze(entry('f', 'a0', 0));
  const e1 = Object.freeze(entry('f', 'a1', 1));
  const agents: Record<string, RegistryEntry> = { 'f/a0': e0, 'f/a1': e1 };
  const mem: RegistryFile = { version: 1, agents };
  let heard: { keys: string[] | null; was: string | undefined } | undefined;
  const next = applyRegistryMutation(
    mem,
    (r) => {
      r.agents['f/a1']!.desired = 'stopped';
      r.agents['f/new'] = entry('f', 'new', 7);
    },
    (keys, before) => (heard = { keys: keys && [...keys].sort(), was: before('f/a1')?.desired }),
    true,
  );
  assert.equal(next.agents, agents, 'no copy of the agents object');
  assert.equal(agents['f/a0'], e0, 'an untouched entry is the same object');
  assert.notEqual(agents['f/a1'], e1, 'a touched entry is a new object');
  assert.equal(e1.desired, 'running', 'the entry handed out before is not edited');
  assert.equal(agents['f/a1']!.desired, 'stopped');
  assert.equal(agents['f/new']!.block, 7);
  assert.deepEqual(heard, { keys: ['f/a1', 'f/new'], was: 'running' }, 'the listener hears each touched entry as it was before');
});

test('in place: a refused change, or a mutation that throws, leaves the agents object as it was', () => {
  const e0 = Object.freeze(entry('f', 'a0', 0));
  const e1 = Object.freeze(entry('f', 'a1', 1));
  const agents: Record<string, RegistryEntry> = { 'f/a0': e0, 'f/a1': e1 };
  const mem: RegistryFile = { version: 1, agents };
  const unchanged = () => {
    assert.deepEqual(Object.keys(agents), ['f/a0', 'f/a1']);
    assert.equal(agents['f/a0'], e0);
    assert.equal(agents['f/a1'], e1);
  };
  const editAll = (r: RegistryFile) => {
    r.agents['f/a0']!.desired = 'stopped';
    delete r.agents['f/a1'];
    r.agents['f/new'] = entry('f', 'new', 5);
  };
  assert.throws(() => applyRegistryMutation(mem, (r) => (editAll(r), void (r.agents['f/new']!.port = 0)), undefined, true), refused(/agents\["f\/new"\]\.port/));
  unchanged();
  assert.throws(() => applyRegistryMutation(mem, (r) => (editAll(r), void (r.agents['f/new']!.block = 0)), undefined, true), refused(/block 0 is also held by f\/a0/));
  unchanged();
  assert.throws(() => applyRegistryMutation(mem, (r) => (editAll(r), assert.fail('the mutation fails')), undefined, true), /the mutation fails/);
  unchanged();
  assert.throws(() => applyRegistryMutation(mem, (r) => (editAll(r), void ((r as unknown as Record<string, unknown>).extra = true)), undefined, true), refused(/Unrecognized key/));
  unchanged();
});
