import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { waitFor } from '../util/wait-for.js';
import { countLeftovers, descendantsOf, groupMembers, isAlive, isSameProcess, parseStat, readStat, trackTree } from './proc.js';
import { PidTracker } from '../../test/support/testkit.js';

describe('proc', () => {
  test('parseStat handles a comm with spaces and parentheses', () => {
    const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
    fields[0] = 'S'; // field 3
    fields[1] = '11'; // ppid
    fields[2] = '12'; // pgrp
    fields[3] = '13'; // session
    fields[19] = '987654'; // field 22: starttime
    const stat = parseStat(`42 (my (weird) proc) ${fields.join(' ')}`);
    // fields 14-17 (utime, stime, cutime, cstime) hold 14+15+16+17 here
    assert.deepEqual(stat, { pid: 42, comm: 'my (weird) proc', state: 'S', ppid: 11, pgid: 12, sid: 13, startTime: '987654', cpuTicks: 62, rssPages: 24 });
    assert.equal(parseStat('garbage'), undefined);
  });

  test('readStat of this process matches what node knows', async () => {
    const stat = readStat(process.pid);
    assert.ok(stat);
    assert.equal(stat.ppid, process.ppid);
    assert.match(stat.startTime, /^\d+$/);
    const raw = await readFile(`/proc/${process.pid}/stat`, 'utf8');
    assert.equal(raw.slice(raw.lastIndexOf(')') + 2).split(' ')[19], stat.startTime);
    assert.equal(readStat(999_999_999), undefined);
    assert.ok(isSameProcess({ pid: process.pid, startTime: stat.startTime }));
    assert.ok(!isSameProcess({ pid: process.pid, startTime: `${stat.startTime}1` }));
  });

  test('descendants in another session are found; zombies count as dead', async () => {
    const tracker = new PidTracker();
    // sh starts a detached grandchild (setsid: new session) and a short-lived child it never
    // reaps (after exec, `sleep` does not wait for it): a zombie.
    const child = spawn('/bin/sh', ['-c', 'setsid sleep 30 & /bin/true & exec sleep 30'], { stdio: 'ignore' });
    tracker.add(child.pid);
    try {
      const pid = child.pid as number;
      const found = await waitFor(
        () => {
          const d = descendantsOf(pid);
          return d.some((p) => p.sid !== readStat(pid)?.sid) ? d : undefined;
        },
        { timeoutMs: 5000, what: 'detached grandchild' },
      );
      tracker.add(...found.map((p) => p.pid));
      const detached = found.find((p) => p.sid !== readStat(pid)?.sid);
      assert.ok(detached && isAlive(detached.pid));
      assert.ok(groupMembers(readStat(pid)?.pgid ?? -1).some((p) => p.pid === pid));
      assert.ok(!groupMembers(readStat(pid)?.pgid ?? -1).some((p) => p.pid === detached.pid), 'setsid left the group');

      const zombie = await waitFor(() => readdirZombie(pid), { timeoutMs: 5000, what: 'zombie child' });
      process.kill(zombie, 0); // kill(0) still succeeds on a zombie...
      assert.equal(isAlive(zombie), false); // ...but it is not alive
      assert.ok(!descendantsOf(pid).some((p) => p.pid === zombie), 'zombies are not listed as descendants');

      const known = new Map<number, string>();
      trackTree(pid, known);
      assert.ok(known.has((detached as { pid: number }).pid));
      process.kill(pid, 'SIGKILL');
      await once(child, 'exit');
      assert.ok(countLeftovers(pid, known) >= 1, 'the detached grandchild is left over');
    } finally {
      tracker.killAll();
    }
    await waitFor(() => tracker.alive().length === 0, { timeoutMs: 3000 });
  });
});

/** The pid of a zombie child of `parent`, if any. */
function readdirZombie(parent: number): number | undefined {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (s && s.ppid === parent && s.state === 'Z') return s.pid;
  }
  return undefined;
}
