import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveCommand, spawnGateway } from './spawn-gateway.js';
import { makeFakeAgent, PidTracker } from '../../test/support/testkit.js';

describe('spawnGateway', () => {
  test('resolveCommand searches the gateway PATH, not ours, and wants an executable file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fleetd-'));
    try {
      await mkdir(join(dir, 'bin'));
      await mkdir(join(dir, 'other'));
      await writeFile(join(dir, 'bin', 'openclaw'), '#!/bin/sh\n');
      await chmod(join(dir, 'bin', 'openclaw'), 0o755);
      await writeFile(join(dir, 'other', 'openclaw'), 'not executable');
      assert.equal(resolveCommand('openclaw', `${join(dir, 'other')}:${join(dir, 'bin')}`, dir), join(dir, 'bin', 'openclaw'));
      assert.equal(resolveCommand('openclaw', join(dir, 'other'), dir), undefined);
      assert.equal(resolveCommand('sh', '', dir), undefined, 'our own PATH is not used');
      assert.equal(resolveCommand('./bin/openclaw', '', dir), join(dir, 'bin', 'openclaw'));
      assert.equal(resolveCommand('bin', join(dir), dir), undefined, 'a directory is not a command');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a missing working directory or command is reported through exited, without a process', async () => {
    const agent = await makeFakeAgent();
    try {
      const io = { onStdout: () => undefined, onStderr: () => undefined };
      const noCwd = spawnGateway({ ...agent.spec, cwd: join(agent.dir, 'nope') }, io);
      assert.equal(noCwd.pid, null);
      assert.match((await noCwd.exited).error ?? '', /working directory .*nope does not exist/);
      const noCmd = spawnGateway({ ...agent.spec, argv: ['definitely-not-here'] }, io);
      assert.match((await noCmd.exited).error ?? '', /command not found or not executable: "definitely-not-here"/);
    } finally {
      await agent.cleanup();
    }
  });

  test('the exit code and the last output line arrive together', async () => {
    const agent = await makeFakeAgent({ config: { fakeFail: 1 } });
    const tracker = new PidTracker();
    try {
      let stderr = '';
      const proc = spawnGateway(agent.spec, { onStdout: () => undefined, onStderr: (c) => (stderr += c.toString()) });
      tracker.add(proc.pid);
      assert.match(proc.startTime ?? '', /^\d+$/);
      const exit = await proc.exited;
      assert.deepEqual(exit, { code: 78, signal: null });
      assert.match(stderr, /Unrecognized key: "fakeFail"\n$/);
      assert.deepEqual(tracker.alive(), []);
    } finally {
      tracker.killAll();
      await agent.cleanup();
    }
  });
});
