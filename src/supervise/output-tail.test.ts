import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createOutputTail } from './output-tail.js';

test('the summary is the last meaningful stderr lines, else stdout', () => {
  const tail = createOutputTail();
  assert.equal(tail.summary(), '');
  tail.push('stdout', 'listening on 1\nstill here');
  assert.equal(tail.summary(), 'listening on 1 | still here', 'a last line without a line break counts');
  tail.push('stderr', '\u001b[31mError: Invalid config at /h/openclaw.json\u001b[0m\n');
  tail.push('stderr', '    at load (file:///x.js:1:1)\n    at main (file:///x.js:2:2)\n\nNode.js v24.21.0\n');
  assert.equal(tail.summary(), 'Error: Invalid config at /h/openclaw.json', 'stack frames, blanks, colours and the Node footer are skipped');
  tail.push('stderr', 'second\nthird\n');
  assert.equal(tail.summary(), 'Error: Invalid config at /h/openclaw.json | second', 'the window starts at the line naming the problem');
  assert.equal(tail.summary(3), 'Error: Invalid config at /h/openclaw.json | second | third');
  assert.equal(tail.summary(1, 4), 'E...');
});

test('with no line naming a problem, the summary is the last lines', () => {
  const tail = createOutputTail();
  tail.push('stderr', 'first\nsecond\nthird\n');
  assert.equal(tail.summary(), 'second | third');
});

test("OpenClaw's config refusal keeps the refused key, not only the repair hints", () => {
  const tail = createOutputTail();
  tail.push(
    'stderr',
    [
      '2026-11-21T01:00:00.000+00:00 Gateway failed to start: Invalid config at /s/fleets/acme/bad/.openclaw/openclaw.json:',
      '<root>: Unrecognized key: "notARealKey"',
      'Run "openclaw --profile acme-bad doctor --fix" to repair, then retry.',
      'If startup is still blocked, inspect the adjacent .bak backup before restoring it manually.',
      '2026-11-21T01:00:00.100+00:00 Run "openclaw --profile acme-bad doctor --fix" to repair the config, then retry.',
      '',
    ].join('\n'),
  );
  assert.match(tail.summary(), /Invalid config at .*openclaw\.json: \| <root>: Unrecognized key: "notARealKey"$/);
});

test('only the last lines are kept', () => {
  const tail = createOutputTail(3);
  for (let i = 0; i < 10; i++) tail.push('stderr', `line ${i}\r\n`);
  assert.equal(tail.summary(10), 'line 7 | line 8 | line 9');
});

test('text() hands over what is kept, bounded, so a fresh tail gives the same summary', () => {
  const tail = createOutputTail(5);
  for (let i = 0; i < 20; i++) tail.push('stderr', `Error: line ${i}\n`);
  tail.push('stderr', 'unfinished');
  tail.push('stdout', `${'x'.repeat(100_000)}\nok\n`);
  assert.equal(tail.text('stderr'), 'Error: line 15\nError: line 16\nError: line 17\nError: line 18\nError: line 19\nunfinished', 'the last 5 lines and the open one');
  assert.equal(tail.text('stdout').length, 4096 + 1 + 3, 'an overlong line keeps its first 4096 characters');
  const copy = createOutputTail(5);
  copy.push('stderr', tail.text('stderr'));
  copy.push('stdout', tail.text('stdout'));
  assert.equal(copy.summary(3), tail.summary(3));
  assert.equal(tail.text('stderr', 30), 'Error: line 19\nunfinished', 'bounded, starting at a line');
  assert.equal(tail.text('stdout', 2), 'k\n', 'no line break near: the last characters');
});
