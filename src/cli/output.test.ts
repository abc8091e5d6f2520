// How fleetctl reports an error: one line for what it classified (a FleetError), that line and
// the stack for what it did not (a bug: where it came from is what its report needs), and with
// --json only the error document, whatever it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FleetError } from '../errors.js';
import { reportError } from './output.js';
import type { CliIo } from './context.js';

function memoryIo(): CliIo & { outs: string[]; errs: string[] } {
  const outs: string[] = [];
  const errs: string[] = [];
  return { outs, errs, out: (text: string) => void outs.push(text), err: (text: string) => void errs.push(text) } as CliIo & { outs: string[]; errs: string[] };
}

test('a classified error is one line; an unexpected one adds its stack; --json gives the document alone', () => {
  const known = memoryIo();
  assert.equal(reportError(known, new FleetError('NOT_FOUND', 'no agent acme/x'), false).code, 'NOT_FOUND');
  assert.deepEqual([known.outs, known.errs.join('')], [[], 'fleetctl: no agent acme/x\n']);

  const bug = memoryIo();
  const thrown = new TypeError("Cannot read properties of undefined (reading 'boom')");
  assert.equal(reportError(bug, thrown, false).code, 'INTERNAL');
  const text = bug.errs.join('');
  assert.match(text, /^fleetctl: Cannot read properties of undefined \(reading 'boom'\)\n\(a bug, not an error fleetd or its CLI classified: please report it with this trace\)\nTypeError: Cannot read properties/);
  assert.match(text, /output\.test\.js:\d+:\d+/, 'the trace names where it was thrown');

  const json = memoryIo();
  reportError(json, thrown, true);
  assert.deepEqual(json.errs, []);
  assert.deepEqual(JSON.parse(json.outs.join('')), { error: { code: 'INTERNAL', message: "Cannot read properties of undefined (reading 'boom')" } });
});
