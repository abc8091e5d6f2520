// systemd/fleetd.service passes `systemd-analyze verify` (when systemd-analyze exists) and
// keeps the settings the README promises.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { cleanup, REPO, tempDir } from './harness.js';

const UNIT = join(REPO, 'systemd', 'fleetd.service');

test('the unit has the settings fleetd relies on, each with a comment', async () => {
  const text = await readFile(UNIT, 'utf8');
  for (const line of ['Type=notify', 'NotifyAccess=all', 'WatchdogSec=60s', 'KillMode=process', 'RestartForceExitStatus=75', 'Restart=on-failure', 'StateDirectory=fleetd', 'RuntimeDirectory=fleetd', 'NoNewPrivileges=yes', 'ProtectSystem=full', 'PrivateTmp=yes', 'ExecReload=/bin/kill -HUP $MAINPID']) {
    assert.ok(text.split('\n').includes(line), `missing ${line}`);
  }
  assert.match(text, /^ExecStart=\/usr\/bin\/env fleetd start --manifest \/etc\/fleetd\/fleets\.json5/m);
  assert.match(text, /^LimitNOFILE=\d+/m);
  assert.ok(Number(/^TimeoutStartSec=(\d+)s$/m.exec(text)?.[1]) * 1000 > 60_000, 'start-up may stop leftover gateways first (up to the default 60 s stop timeout)');
  const stop = Number(/^TimeoutStopSec=(\d+)s$/m.exec(text)?.[1]);
  assert.ok(stop * 1000 > 60_000, 'TimeoutStopSec must exceed the default gateway.stopTimeoutMs (60 s)');
  // every directive says why, on the comment line right above it
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (/^[A-Z][A-Za-z]+=/.test(l)) assert.ok(lines[i - 1]?.startsWith('#'), `${l} has no comment above it`);
  }
});

test('systemd-analyze verify accepts the unit', async (t) => {
  const probe = spawnSync('systemd-analyze', ['--version']);
  if (probe.error || probe.status !== 0) {
    t.skip('systemd-analyze is not installed');
    return;
  }
  const dir = await tempDir();
  try {
    const text = await readFile(UNIT, 'utf8');
    const copy = join(dir, 'fleetd.service');
    await writeFile(copy, text);
    const res = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
    const complaints = `${res.stdout}${res.stderr}`.split('\n').filter((l) => l.includes('fleetd.service'));
    assert.equal(res.status, 0, complaints.join('\n'));
    assert.deepEqual(complaints, []);
  } finally {
    await cleanup(dir);
  }
});
