import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { ProcStat } from './proc.js';
import { descendantsOf, groupMembers, readStat, trackTree } from './proc.js';
import { createProcTable, SCAN_SLICE, treeUsageIn, treeUsageOf } from './proc-table.js';
import { waitFor } from '../util/wait-for.js';
import { PidTracker } from '../../test/support/testkit.js';

function proc(pid: number, ppid: number, pgid: number, over: Partial<ProcStat> = {}): ProcStat {
  return { pid, comm: 'x', state: 'S', ppid, pgid, sid: pgid, startTime: String(pid * 10), cpuTicks: 0, rssPages: 10, ...over };
}

describe('proc table', () => {
  test('a scan is reused by callers whose moment is not after it started; an older moment never forces a scan', () => {
    let clock = 100;
    let lists = 0;
    const table = createProcTable({ now: () => clock, list: () => (lists++, [proc(1, 0, 1)]) });
    const first = table.snapshot();
    assert.equal(table.snapshot(100), first, 'same moment: shared');
    assert.equal(table.snapshot(50), first, 'older moment: shared');
    clock = 101;
    assert.notEqual(table.snapshot(), first, 'a moment after the scan started: a new scan');
    assert.equal(lists, 2);
    assert.deepEqual(table.scans(), { tables: 2, environments: 0, environReads: 0 });
  });

  test('the last scan is let go keepMs after it was taken: a caller that accepts any age then scans again', async () => {
    let lists = 0;
    const table = createProcTable({ now: () => 100, list: () => (lists++, [proc(1, 0, 1)]), keepMs: 1 });
    const first = table.snapshot();
    assert.equal(table.snapshot(-Infinity), first, 'kept meanwhile');
    await waitFor(() => table.snapshot(-Infinity) !== first || undefined, { timeoutMs: 5000, what: 'the scan to be let go' });
    assert.equal(lists, 2, 'one new scan once the old one was let go');
  });

  test('environment indexes are shared like scans; each environment is read once per process, "no marker" only once it is a second old', () => {
    let clock = 0;
    let uptime = 1000; // seconds since boot; start times are in 1/100 s
    let list = [proc(5, 1, 5, { startTime: '10000' }), proc(6, 1, 6, { startTime: '99990' })]; // 900 s old, 0.1 s old
    const env = new Map<number, string | undefined>([[5, '/a'], [6, undefined]]);
    const reads: number[] = [];
    const table = createProcTable({ now: () => clock, list: () => list, uptime: () => uptime, readEnv: (pid) => (reads.push(pid), env.get(pid)) });
    const got = table.marked('OPENCLAW_CONFIG_PATH', '/a', 0);
    got.push({ pid: 9, startTime: '9' });
    assert.deepEqual(table.marked('OPENCLAW_CONFIG_PATH', '/a', 0), [{ pid: 5, startTime: '10000' }], 'callers get copies; same moment: same index');
    assert.deepEqual(reads, [5, 6]);
    clock = 5;
    env.set(6, '/a'); // pid 6 was a fork of fleetd that has exec'ed the gateway since: same pid and start time
    assert.deepEqual(table.marked('OPENCLAW_CONFIG_PATH', '/a', 5).map((r) => r.pid), [5, 6], 'a young process without the marker is read again');
    assert.deepEqual(reads, [5, 6, 6], 'the old one is not read again');
    clock = 10;
    uptime = 2000;
    list = [...list, proc(7, 1, 7, { startTime: '10' })];
    env.set(7, undefined);
    table.marked('OPENCLAW_CONFIG_PATH', '/a', 10);
    clock = 11;
    table.marked('OPENCLAW_CONFIG_PATH', '/a', 11);
    assert.deepEqual(reads, [5, 6, 6, 7], 'an old process without the marker is read once');
    list = [proc(5, 1, 5, { startTime: '12345' })]; // pid 5 reused by another process; 6 and 7 gone
    env.set(5, undefined);
    clock = 12;
    assert.deepEqual(table.marked('OPENCLAW_CONFIG_PATH', '/a', 12), [], 'a reused pid is read afresh');
    assert.deepEqual(table.scans(), { tables: 5, environments: 5, environReads: 5 });
  });

  test('tree queries on one snapshot: descendants across groups, living group members, tree RSS and CPU (the pid read now, descendants from the scan)', () => {
    const list = [proc(10, 1, 10), proc(11, 10, 10, { cpuTicks: 7 }), proc(12, 11, 12, { sid: 12, cpuTicks: 7 }), proc(13, 10, 10, { state: 'Z', cpuTicks: 1000 }), proc(14, 1, 10), proc(20, 1, 20)];
    const table = createProcTable({ list: () => list });
    const snap = table.snapshot();
    assert.deepEqual(descendantsOf(10, snap).map((p) => p.pid).sort(), [11, 12]);
    assert.deepEqual(groupMembers(10, snap).map((p) => p.pid).sort(), [10, 11, 14]);
    const known = new Map([[99, '990'], [14, '140']]);
    trackTree(10, known, snap);
    assert.deepEqual([...known.keys()].sort(), [11, 12, 14], 'dead entries dropped, descendants added');
    // read now: 10 has grown since the scan (30 pages, 50 ticks), 20 is as scanned, 21 is younger than the scan, 77 is gone, 78 a zombie
    const own = (pid: number) => (pid === 10 ? proc(10, 1, 10, { rssPages: 30, cpuTicks: 50 }) : pid === 20 ? proc(20, 1, 20, { rssPages: 2, cpuTicks: 0 }) : pid === 21 ? proc(21, 1, 21) : pid === 78 ? proc(78, 1, 78, { state: 'Z' }) : undefined);
    assert.deepEqual(
      [...treeUsageOf(table, [10, 20, 21, 77, 78], 4096, 1000, own)],
      [[10, { rssBytes: (30 + 10 + 10) * 4096, cpuSeconds: (50 + 2 * 7) / 100 }], [20, { rssBytes: 8192, cpuSeconds: 0 }]],
      'the pid itself read now, its living descendants (11, 12; not the zombie 13) from the scan; a gone pid and a zombie left out',
    );
    assert.equal(table.scans().tables, 1, 'status reuses a recent scan');
    // a scan taken before a run began knows neither its gateway nor its children: no figure rather than the gateway alone
    assert.equal(treeUsageIn(snap, 21, 4096, own), null, 'a pid younger than the scan: no tree figure');
    const reused = (pid: number) => (pid === 20 ? proc(20, 1, 20, { startTime: '999', rssPages: 2 }) : undefined);
    assert.equal(treeUsageIn(snap, 20, 4096, reused), null, 'a pid the scan knew as another process (reused): no tree figure either');
  });

  test('a sliced scan reads SCAN_SLICE processes per turn, is shared by concurrent callers, and then serves snapshot(); real /proc: same processes as a whole walk', async () => {
    const pids = Array.from({ length: SCAN_SLICE * 2 + 1 }, (_, i) => i + 1);
    let clock = 100;
    const readsPerTurn: number[] = [0];
    let turns = 0;
    const tick = setInterval(() => undefined, 1); // keeps the loop turning
    const table = createProcTable({ now: () => clock, pids: () => pids, stat: (pid) => (readsPerTurn[turns]!++, proc(pid, 0, pid)) });
    const countTurns = () => void setImmediate(() => (turns++, readsPerTurn.push(0), turns < 10 && countTurns()));
    countTurns();
    const [a, b] = await Promise.all([table.snapshotSliced(), table.snapshotSliced(100)]);
    clearInterval(tick);
    assert.equal(a, b, 'one scan for both');
    assert.equal(a.list.length, pids.length);
    assert.ok(Math.max(...readsPerTurn) <= SCAN_SLICE, `at most a slice per turn: ${readsPerTurn.join(' ')}`);
    assert.equal(table.snapshot(100), a, 'it serves a later snapshot() of the same moment');
    clock = 101;
    assert.notEqual(await table.snapshotSliced(), a);
    const real = await createProcTable().snapshotSliced();
    assert.ok(real.byPid.has(process.pid) && real.list.length > 1);
  });

  test('real /proc: one environment pass finds a child by its marker; RSS of a real tree is non-zero', async () => {
    const tracker = new PidTracker();
    const marker = `/tmp/proc-table-test-${process.pid}-${Date.now()}`;
    const child = spawn('/bin/sh', ['-c', 'sleep 30 & exec sleep 30'], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', OPENCLAW_CONFIG_PATH: marker }, stdio: 'ignore' });
    tracker.add(child.pid);
    try {
      const found = await waitFor(() => {
        const refs = createProcTable().marked('OPENCLAW_CONFIG_PATH', marker);
        return refs.length >= 2 ? refs : undefined;
      }, { timeoutMs: 5000, what: 'both marked processes' });
      tracker.add(...found.map((r) => r.pid));
      assert.ok(found.some((r) => r.pid === child.pid && r.startTime === readStat(child.pid)?.startTime));
      const table = createProcTable();
      const usage = treeUsageOf(table, [child.pid!], 4096, 0).get(child.pid!);
      assert.ok(usage && usage.rssBytes > 0 && usage.cpuSeconds >= 0);
      assert.deepEqual(table.marked('OPENCLAW_CONFIG_PATH', `${marker}-other`), []);
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
      tracker.killAll();
      await waitFor(() => tracker.alive().length === 0, { timeoutMs: 5000, what: "test processes gone" });
    }
  });
});
