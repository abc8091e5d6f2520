import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitPassthrough } from './passthrough.js';

test('everything after the address of exec/openclaw is the command, options included', () => {
  const rows: Array<[string[], string[], string[] | undefined]> = [
    [['openclaw', 'acme/a', '--version'], ['openclaw', 'acme/a'], ['--version']],
    [['--json', 'openclaw', 'acme/a', 'config', 'get', 'x', '--json'], ['--json', 'openclaw', 'acme/a'], ['config', 'get', 'x', '--json']],
    [['--socket', '/s.sock', 'exec', 'acme/a', '--', 'ls', '-la'], ['--socket', '/s.sock', 'exec', 'acme/a'], ['ls', '-la']],
    [['exec', '--json', 'acme/a', 'sh', '-c', 'echo --help'], ['exec', '--json', 'acme/a'], ['sh', '-c', 'echo --help']],
    [['exec', 'acme/a', '--', '--', 'x'], ['exec', 'acme/a'], ['--', 'x']],
    [['openclaw', 'acme/a'], ['openclaw', 'acme/a'], []],
  ];
  for (const [argv, own, command] of rows) assert.deepEqual(splitPassthrough(argv), { argv: own, command }, argv.join(' '));
});

test('other commands, help, and a missing address come back whole for commander', () => {
  for (const argv of [['status', '--json'], ['logs', 'acme/a', '-f'], ['exec', '--help'], ['openclaw'], ['--version'], ['exec', '-h', 'acme/a', 'x'], []]) {
    assert.deepEqual(splitPassthrough(argv), { argv, command: undefined }, argv.join(' '));
  }
});
