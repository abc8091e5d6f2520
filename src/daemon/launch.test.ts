import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commandArgv } from './launch.js';

test('a command without {port} gets --port P appended (OpenClaw\'s gateway argv)', () => {
  const command = ['/opt/gw/bin/gateway', 'run'];
  assert.deepEqual(commandArgv(command, 20100), ['/opt/gw/bin/gateway', 'run', '--port', '20100']);
  assert.deepEqual(command, ['/opt/gw/bin/gateway', 'run'], 'the manifest\'s array is left as it was');
});

test('a command with {port} gets the port in every place that names it, and nothing appended', () => {
  const command = ['busybox', 'httpd', '-f', '-p', '127.0.0.1:{port}', '--check={port},{port}'];
  assert.deepEqual(commandArgv(command, 20200), ['busybox', 'httpd', '-f', '-p', '127.0.0.1:20200', '--check=20200,20200']);
  assert.equal(command[4], '127.0.0.1:{port}');
  assert.deepEqual(commandArgv(['x', '{PORT}', '{ port }'], 1), ['x', '{PORT}', '{ port }', '--port', '1'], 'only {port} exactly is the placeholder');
});
