import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { catchSignalsEarly, type StopSignal } from './early-signals.js';

/** A fake process that only delivers signals. */
function source() {
  const emitter = new EventEmitter();
  return { on: emitter.on.bind(emitter), off: emitter.off.bind(emitter), emit: (s: string) => emitter.emit(s), count: (s: string) => emitter.listenerCount(s) };
}

test('signals before route() are remembered and replayed once: a stop wins over a reload', () => {
  const src = source();
  const early = catchSignalsEarly(src);
  src.emit('SIGHUP');
  src.emit('SIGINT');
  src.emit('SIGTERM');
  assert.equal(early.pendingStop(), 'SIGINT', 'the first stop signal');
  const seen: Array<StopSignal | 'reload'> = [];
  early.route({ stop: (s) => seen.push(s), reload: () => seen.push('reload') });
  assert.deepEqual(seen, ['SIGINT']);
  assert.equal(early.pendingStop(), undefined, 'handed over');
  src.emit('SIGHUP');
  src.emit('SIGTERM');
  assert.deepEqual(seen, ['SIGINT', 'reload', 'SIGTERM'], 'later signals go straight to the routes');
});

test('a reload alone is replayed; nothing received, nothing replayed; dispose removes the handlers', () => {
  const src = source();
  const early = catchSignalsEarly(src);
  src.emit('SIGHUP');
  const seen: string[] = [];
  early.route({ stop: (s) => seen.push(s), reload: () => seen.push('reload') });
  assert.deepEqual(seen, ['reload']);
  const quiet = catchSignalsEarly(src);
  const none: string[] = [];
  quiet.route({ stop: (s) => none.push(s), reload: () => none.push('reload') });
  assert.deepEqual(none, []);
  early.dispose();
  quiet.dispose();
  for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) assert.equal(src.count(s), 0);
});
