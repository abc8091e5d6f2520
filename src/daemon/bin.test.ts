// bin/fleetd.js is what systemd's ExecStart (`/usr/bin/env fleetd start ...`) and `npm start`
// run: its first line passes V8 flags to node through `env -S`. A flag this Node does not
// know makes node exit at once ("bad option"), before fleetd could log anything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { execa } from 'execa';
import { FLEETD_BIN } from '../../test/support/paths.js';

test('bin/fleetd.js runs through its own first line (env -S node FLAGS): its flags are ones this Node accepts', async () => {
  const first = readFileSync(FLEETD_BIN, 'utf8').split('\n', 1)[0]!;
  assert.match(first, /^#!\/usr\/bin\/env -S node( --[a-z0-9-]+(=\S+)?)*$/, 'a plain env -S node line with flags');
  const flags = first.replace(/^#!\/usr\/bin\/env -S node/, '').trim().split(/\s+/).filter(Boolean);
  // as the kernel runs it: the file itself is the program
  const run = await execa(FLEETD_BIN, ['--help'], { reject: false, env: { NODE_OPTIONS: '' } });
  assert.equal(run.exitCode, 0, run.stderr);
  assert.match(run.stdout, /Usage: fleetd/);
  // and each flag reaches V8 (node rejects a flag it does not know; this one must be known)
  for (const flag of flags) {
    const check = await execa(process.execPath, [flag, '-e', 'process.exit(0)'], { reject: false });
    assert.equal(check.exitCode, 0, `${flag}: ${check.stderr}`);
  }
});

test('fleetd start with a log level that is not one says which and where, exit 2, before it reads the manifest', async () => {
  const flag = await execa(FLEETD_BIN, ['start', '--manifest', '/nonexistent/fleets.json5', '--log-level', 'bogus'], { reject: false, env: { NODE_OPTIONS: '' } });
  assert.equal(flag.exitCode, 2, flag.stderr);
  assert.equal(flag.stderr.trim(), 'fleetd: --log-level must be one of trace, debug, info, warn, error, fatal, silent, not "bogus"');
  const env = await execa(FLEETD_BIN, ['start', '--manifest', '/nonexistent/fleets.json5'], { reject: false, env: { NODE_OPTIONS: '', FLEETD_LOG_LEVEL: 'loud' } });
  assert.equal(env.exitCode, 2, env.stderr);
  assert.equal(env.stderr.trim(), 'fleetd: FLEETD_LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, silent, not "loud"');
});
