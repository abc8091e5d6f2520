// memberPidsOf: a cgroup's members read folder by folder as they are asked for (the files
// walked are laid out as the kernel lays out a cgroup's: cgroup.procs in each folder).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { memberPidsOf, subtreePids } from './cgroup-files.js';
import { withTempDir } from '../util/temp-dir.js';

test('memberPidsOf: every pid of every folder and below once, the first folder\'s first, later folders read only when iterated to', async () => {
  await withTempDir(async (dir) => {
    const memory = join(dir, 'memory', 'acme@a');
    const pids = join(dir, 'pids', 'acme@a');
    mkdirSync(join(memory, 'moved'), { recursive: true });
    writeFileSync(join(memory, 'cgroup.procs'), '30\n10\n');
    writeFileSync(join(memory, 'moved', 'cgroup.procs'), '20\n');
    const missing = join(dir, 'freezer', 'acme@a'); // unreadable: skipped
    const members = memberPidsOf([memory, missing, pids]);
    assert.deepEqual([members.next().value, members.next().value, members.next().value], [10, 20, 30], 'the first folder and below, sorted');
    // written only now: a folder is read when the caller gets to it, not before
    mkdirSync(pids, { recursive: true });
    writeFileSync(join(pids, 'cgroup.procs'), '10\n40\n');
    assert.deepEqual([...members], [40], 'then the pids not seen yet');
    assert.deepEqual([...memberPidsOf([memory, missing, pids])].sort((a, b) => a - b), [...new Set([...subtreePids(memory), ...subtreePids(pids)])].sort((a, b) => a - b), 'the same set pids() reads');
  });
});
