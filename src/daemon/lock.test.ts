import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { lstat, mkdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { withTempDir } from '../util/temp-dir.js';
import { waitFor } from '../util/wait-for.js';
import { isAlive, readStat } from '../supervise/proc.js';
import { acquireStateLock, currentOwner, judgeOwner, LOCK_DIR, OWNER_FILE, PID_FILE, type LockOwner } from './lock.js';

const MODULE = new URL('./lock.js', import.meta.url).href;
const never = () => {};

/** A process that takes the lock of `stateDir` and holds it; prints "held" or "refused <message>". */
function holder(stateDir: string): { child: ChildProcess; output: () => string } {
  const source = `import { acquireStateLock } from ${JSON.stringify(MODULE)};
try { await acquireStateLock(${JSON.stringify(stateDir)}, () => {}); process.stdout.write('held\\n'); }
catch (err) { process.stdout.write('refused ' + err.code + ' ' + err.message + '\\n'); process.exit(0); }
setInterval(() => {}, 1 << 30);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', source], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  return { child, output: () => out };
}

/** The owner record of a process that has already exited (its pid is free). */
async function deadOwner(): Promise<LockOwner> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((resolve) => child.on('exit', resolve));
  return { ...currentOwner(), pid: child.pid!, startTime: '12345' };
}

/** Writes a lock folder as if `owner` held it (and its pid file). */
async function plantLock(stateDir: string, owner: LockOwner): Promise<void> {
  await mkdir(join(stateDir, LOCK_DIR), { mode: 0o700 });
  await writeFile(join(stateDir, LOCK_DIR, OWNER_FILE), JSON.stringify(owner));
  await writeFile(join(stateDir, PID_FILE), JSON.stringify(owner));
}

/** Every file of the lock aged by an hour (the clock must decide nothing). */
async function age(stateDir: string, deltaMs: number): Promise<void> {
  const when = new Date(Date.now() + deltaMs);
  for (const path of [join(stateDir, LOCK_DIR, OWNER_FILE), join(stateDir, LOCK_DIR), join(stateDir, PID_FILE)]) await utimes(path, when, when);
}

/** Kills test children whatever happens. */
function killAll(children: ChildProcess[]): void {
  for (const c of children) {
    try {
      process.kill(c.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

describe('state dir lock', () => {
  test('a fresh lock: folder 0700 and owner 0600 even under umask 000; released, nothing is left', () =>
    withTempDir(async (dir) => {
      const previous = process.umask(0);
      let lock;
      try {
        lock = await acquireStateLock(dir, never, { checkEveryMs: 0 });
      } finally {
        process.umask(previous);
      }
      assert.equal((await stat(join(dir, LOCK_DIR))).mode & 0o777, 0o700);
      assert.equal((await stat(join(dir, LOCK_DIR, OWNER_FILE))).mode & 0o777, 0o600);
      assert.equal((await stat(join(dir, PID_FILE))).mode & 0o777, 0o600);
      const owner = JSON.parse(await readFile(join(dir, LOCK_DIR, OWNER_FILE), 'utf8'));
      assert.equal(owner.pid, process.pid);
      assert.equal(owner.startTime, readStat(process.pid)?.startTime);
      await lock.release();
      await assert.rejects(lstat(join(dir, LOCK_DIR)), { code: 'ENOENT' });
      await assert.rejects(lstat(join(dir, PID_FILE)), { code: 'ENOENT' });
    }));

  test('a live holder is never robbed: running, SIGSTOPped, with its files aged into the past or the future', () =>
    withTempDir(async (dir) => {
      const h = holder(dir);
      try {
        await waitFor(() => h.output().includes('held'), { timeoutMs: 10_000, what: 'the holder to take the lock' });
        const before = (await stat(join(dir, LOCK_DIR, OWNER_FILE))).ino;
        for (const [frozen, delta] of [[false, -3_600_000], [true, -3_600_000], [true, 3_600_000], [true, -86_400_000 * 365]] as const) {
          if (frozen) process.kill(h.child.pid!, 'SIGSTOP');
          await waitFor(() => !frozen || readStat(h.child.pid!)?.state === 'T', { timeoutMs: 5000, what: 'the holder to stop' });
          await age(dir, delta);
          await assert.rejects(acquireStateLock(dir, never, { checkEveryMs: 0 }), (err: Error & { code?: string }) => {
            assert.equal(err.code, 'ALREADY_RUNNING');
            assert.match(err.message, new RegExp(`fleetd \\(pid ${h.child.pid}\\) already runs`));
            if (frozen) assert.match(err.message, /stopped/);
            return true;
          });
          assert.equal((await stat(join(dir, LOCK_DIR, OWNER_FILE))).ino, before, 'the lock is untouched');
          assert.equal(JSON.parse(await readFile(join(dir, PID_FILE), 'utf8')).pid, h.child.pid, 'the pid file is untouched');
          if (frozen) process.kill(h.child.pid!, 'SIGCONT');
        }
        // Once the holder is killed (no release), its lock is taken over at once.
        process.kill(h.child.pid!, 'SIGKILL');
        await waitFor(() => !isAlive(h.child.pid!), { timeoutMs: 5000 });
        const lock = await acquireStateLock(dir, never, { checkEveryMs: 0 });
        assert.equal(JSON.parse(await readFile(join(dir, PID_FILE), 'utf8')).pid, process.pid);
        await lock.release();
        await assert.rejects(lstat(join(dir, LOCK_DIR)), { code: 'ENOENT' }, 'lock and grave gone after a clean release');
      } finally {
        killAll([h.child]);
      }
    }));

  test('only a provably dead holder is taken over: gone pid, reused pid, rebooted machine; never another host or an unreadable owner', () =>
    withTempDir(async (dir) => {
      const here = currentOwner();
      const dead = await deadOwner();
      assert.equal(judgeOwner(dead, here).state, 'dead');
      // a live process with another start time: the recorded one is gone, the pid reused
      const reused = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
      try {
        await waitFor(() => readStat(reused.pid!), { timeoutMs: 5000 });
        const cases: Array<[string, LockOwner, 'taken' | 'refused']> = [
          ['gone pid', dead, 'taken'],
          ['reused pid', { ...here, pid: reused.pid!, startTime: '1' }, 'taken'],
          ['other boot, same host', { ...here, bootId: 'ffffffff-0000-0000-0000-000000000000' }, 'taken'],
          ['other host', { ...dead, host: `${here.host}-elsewhere` }, 'refused'],
          ['live pid, matching start time', { ...here, pid: reused.pid!, startTime: readStat(reused.pid!)!.startTime }, 'refused'],
        ];
        for (const [name, owner, expected] of cases) {
          await plantLock(dir, owner);
          await age(dir, -3_600_000);
          if (expected === 'taken') {
            const lock = await acquireStateLock(dir, never, { checkEveryMs: 0 });
            assert.equal(JSON.parse(await readFile(join(dir, LOCK_DIR, OWNER_FILE), 'utf8')).pid, process.pid, name);
            await lock.release();
          } else {
            await assert.rejects(acquireStateLock(dir, never, { checkEveryMs: 0 }), { code: 'ALREADY_RUNNING' }, name);
            assert.deepEqual(JSON.parse(await readFile(join(dir, LOCK_DIR, OWNER_FILE), 'utf8')), owner, `${name}: untouched`);
            await rm(join(dir, LOCK_DIR), { recursive: true });
          }
          await rm(join(dir, PID_FILE), { force: true });
        }
        assert.ok(isAlive(reused.pid!), 'judging a reused pid never signals it');
        // an owner record nobody can read proves nothing
        await mkdir(join(dir, LOCK_DIR));
        await writeFile(join(dir, LOCK_DIR, OWNER_FILE), 'not json');
        await assert.rejects(acquireStateLock(dir, never, { checkEveryMs: 0 }), /cannot prove its holder dead; if no fleetd runs on this state dir, remove/);
        await rm(join(dir, LOCK_DIR), { recursive: true });
        // a lock that is a file, not a folder
        await writeFile(join(dir, LOCK_DIR), '');
        await assert.rejects(acquireStateLock(dir, never, { checkEveryMs: 0 }), { code: 'CONFLICT' });
      } finally {
        killAll([reused]);
      }
    }));

  test('a lock made by an older fleetd (empty folder + fleetd.pid) is judged by its pid file', () =>
    withTempDir(async (dir) => {
      const dead = await deadOwner();
      await mkdir(join(dir, LOCK_DIR));
      await writeFile(join(dir, PID_FILE), JSON.stringify({ pid: dead.pid, startTime: dead.startTime }));
      const lock = await acquireStateLock(dir, never, { checkEveryMs: 0 });
      await lock.release();
      await mkdir(join(dir, LOCK_DIR));
      await writeFile(join(dir, PID_FILE), JSON.stringify({ pid: process.ppid, startTime: readStat(process.ppid)!.startTime }));
      await assert.rejects(acquireStateLock(dir, never, { checkEveryMs: 0 }), new RegExp(`pid ${process.ppid}\\) already runs`));
    }));

  test('many fleetds taking over one dead holder at once: exactly one wins', () =>
    withTempDir(async (dir) => {
      await plantLock(dir, await deadOwner());
      const contenders = Array.from({ length: 6 }, () => holder(dir));
      try {
        await waitFor(() => contenders.every((c) => /held|refused/.test(c.output())), { timeoutMs: 20_000, what: 'every contender to decide' });
        const winners = contenders.filter((c) => c.output().includes('held'));
        assert.equal(winners.length, 1, contenders.map((c) => c.output()).join(''));
        for (const c of contenders) if (!c.output().includes('held')) assert.match(c.output(), /refused ALREADY_RUNNING/);
        assert.equal(JSON.parse(await readFile(join(dir, LOCK_DIR, OWNER_FILE), 'utf8')).pid, winners[0]!.child.pid);
      } finally {
        killAll(contenders.map((c) => c.child));
      }
    }));

  test('release removes nothing it does not own; a lock taken away is reported', () =>
    withTempDir(async (dir) => {
      const compromised: Error[] = [];
      const lock = await acquireStateLock(dir, (err) => compromised.push(err), { checkEveryMs: 20 });
      const other = { ...currentOwner(), pid: process.ppid, startTime: readStat(process.ppid)!.startTime };
      await writeFile(join(dir, LOCK_DIR, OWNER_FILE), JSON.stringify(other));
      await writeFile(join(dir, PID_FILE), JSON.stringify(other));
      await waitFor(() => compromised.length === 1, { timeoutMs: 5000, what: 'the compromise to be noticed' });
      assert.match(compromised[0]!.message, /no longer names this fleetd/);
      await lock.release();
      assert.deepEqual(JSON.parse(await readFile(join(dir, LOCK_DIR, OWNER_FILE), 'utf8')), other, 'the other holder keeps its lock');
      assert.deepEqual(JSON.parse(await readFile(join(dir, PID_FILE), 'utf8')), other, 'and its pid file');
    }));
});
