// Limits: what is written (pure), the v2 code paths on plain files (this host's v2 has no
// memory/cpu/pids controller, so the kernel cannot be asked; the files stand in for it),
// and real v1 limits: a process allocating without bound under 64M is OOM-killed and
// recognised as such; pids: 32 stops a fork bomb while a sibling agent stays healthy.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { cgroupSkipReason, collectOutput, fixturePath, makeTestCgroups, spawnArgv } from '../../test/support/cgroup-testkit.js';
import { FIXTURES } from '../../test/support/paths.js';
import { makeFakeAgent, PidTracker } from '../../test/support/testkit.js';
import { FleetError } from '../errors.js';
import { isAlive } from '../supervise/proc.js';
import { waitFor } from '../util/wait-for.js';
import { agentCgroup } from './cgroup-agent.js';
import { v1LimitWrites, v2LimitWrites } from './cgroup-limits.js';
import { parseKeyedCounters } from './cgroup-parse.js';
import { V2AgentCgroup } from './cgroup-v2.js';
import { buildLaunchChain } from './launch-chain.js';
import { resolveLimits } from './limits.js';
import { oomExitReason } from './oom-reason.js';

const G = 1024 ** 3;

describe('limit writes (pure)', () => {
  test('v2: set limits, swap covered, whole-tree OOM; unset ones lifted', () => {
    const set = v2LimitWrites(resolveLimits([{ memory: '1.5G', cpu: 1.5, pids: 512 }]));
    assert.deepEqual(
      set.map((w) => `${w.file}=${w.value}`),
      ['memory.max=1610612736', 'memory.swap.max=0', 'memory.oom.group=1', 'cpu.max=150000 100000', 'pids.max=512'],
    );
    const none = v2LimitWrites({});
    assert.deepEqual(
      none.map((w) => `${w.file}=${w.value}`),
      ['memory.max=max', 'memory.swap.max=max', 'memory.oom.group=1', 'cpu.max=max 100000', 'pids.max=max'],
    );
    assert.deepEqual(none.filter((w) => w.limit !== undefined), [], 'lifting a limit never requires a controller');
  });

  test('v1: memsw never drops below the memory limit (order depends on raise or cut)', () => {
    const order = (mem: number | undefined, current: number | null | undefined) =>
      v1LimitWrites(mem === undefined ? {} : { memoryBytes: mem }, current)
        .filter((w) => w.controller === 'memory')
        .map((w) => `${w.file}=${w.value}`);
    assert.deepEqual(order(64 << 20, null), ['memory.limit_in_bytes=67108864', 'memory.memsw.limit_in_bytes=67108864'], 'unlimited -> 64M: cut');
    assert.deepEqual(order(G, 64 << 20), ['memory.memsw.limit_in_bytes=1073741824', 'memory.limit_in_bytes=1073741824'], '64M -> 1G: raise');
    assert.deepEqual(order(64 << 20, G), ['memory.limit_in_bytes=67108864', 'memory.memsw.limit_in_bytes=67108864'], '1G -> 64M: cut');
    assert.deepEqual(order(undefined, G), ['memory.memsw.limit_in_bytes=-1', 'memory.limit_in_bytes=-1'], 'lift: raise');
    const cpu = v1LimitWrites({ cpu: 0.5 }, null).filter((w) => w.controller === 'cpu').map((w) => `${w.file}=${w.value}`);
    assert.deepEqual(cpu, ['cpu.cfs_period_us=100000', 'cpu.cfs_quota_us=50000']);
  });
});

describe('cgroup v2 limits and counters on plain files (no v2 controllers on this host)', () => {
  async function fakeV2(files: Record<string, string>): Promise<{ dir: string; cg: V2AgentCgroup; cleanup(): Promise<void> }> {
    const base = await mkdtemp(join(tmpdir(), 'fleetd-v2files-'));
    const dir = join(base, 'agents', 'acme@korax');
    await mkdir(dir, { recursive: true });
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    return { dir, cg: new V2AgentCgroup('acme@korax', dir, ['memory', 'cpu', 'pids']), cleanup: () => rm(base, { recursive: true, force: true }) };
  }

  test('applyLimits writes memory.max, swap, oom.group, cpu.max, pids.max; lifting writes "max"', async () => {
    const f = await fakeV2({ 'memory.max': 'max\n', 'memory.swap.max': 'max\n', 'memory.oom.group': '0\n', 'cpu.max': 'max 100000\n', 'pids.max': 'max\n' });
    try {
      f.cg.applyLimits(resolveLimits([{ memory: '64M', cpu: 0.25, pids: 32 }]));
      const read = (name: string) => readFile(join(f.dir, name), 'utf8');
      assert.equal(await read('memory.max'), String(64 << 20));
      assert.equal(await read('memory.swap.max'), '0');
      assert.equal(await read('memory.oom.group'), '1');
      assert.equal(await read('cpu.max'), '25000 100000');
      assert.equal(await read('pids.max'), '32');
      f.cg.applyLimits({});
      assert.equal(await read('memory.max'), 'max');
      assert.equal(await read('cpu.max'), 'max 100000');
      assert.equal(await read('pids.max'), 'max');
    } finally {
      await f.cleanup();
    }
  });

  test('a limit whose controller is not enabled is refused, naming it; no limit needs no controller', async () => {
    const f = await fakeV2({ 'cpu.max': 'max 100000\n' }); // only cpu is enabled
    try {
      assert.throws(
        () => f.cg.applyLimits(resolveLimits([{ memory: '1G' }])),
        (err: unknown) => err instanceof FleetError && err.code === 'PROVISION_FAILED' && /limits\.memory cannot be applied: the memory controller is not enabled/.test(err.message),
      );
      f.cg.applyLimits(resolveLimits([{ cpu: 2 }]));
      assert.equal(await readFile(join(f.dir, 'cpu.max'), 'utf8'), '200000 100000');
    } finally {
      await f.cleanup();
    }
  });

  test('usage and OOM counters are read from memory.*, cpu.*, pids.* and memory.events', async () => {
    const f = await fakeV2({
      'memory.current': '123456789\n',
      'memory.max': '1610612736\n',
      'memory.peak': '234567890\n',
      'memory.events': 'low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 1\n',
      'cpu.stat': 'usage_usec 4500000\nuser_usec 4000000\nsystem_usec 500000\n',
      'cpu.max': '150000 100000\n',
      'pids.current': '37\n',
      'pids.max': 'max\n',
    });
    try {
      assert.deepEqual(f.cg.usage(), {
        memory: { current: 123456789, limit: 1610612736, peak: 234567890 },
        cpuUsageUsec: 4_500_000,
        cpuLimit: 1.5,
        pids: { current: 37, limit: null },
        oom: { oomKills: 1, limitHits: 2 },
      });
    } finally {
      await f.cleanup();
    }
  });
});

describe('CPU of the run, not of the cgroup (files)', () => {
  test('v2: usage() counts cpu.stat usage_usec from the last oomBaseline() (a run\'s start), not from the cgroup\'s creation', async () => {
    const base = await mkdtemp(join(tmpdir(), 'fleetd-v2cpu-'));
    try {
      const dir = join(base, 'acme@korax');
      await mkdir(dir);
      const stat = (usec: number) => writeFile(join(dir, 'cpu.stat'), `usage_usec ${usec}\nuser_usec ${usec}\nsystem_usec 0\n`);
      await stat(1_424_000); // the previous runs
      const cg = new V2AgentCgroup('acme@korax', dir, []);
      assert.equal(cg.usage().cpuUsageUsec, 1_424_000, 'before any run of this fleetd: what the cgroup says');
      cg.oomBaseline(); // a run starts
      await stat(1_474_000);
      assert.equal(cg.usage().cpuUsageUsec, 50_000, 'the run\'s own CPU');
      assert.equal(new V2AgentCgroup('acme@korax', dir, []).usage().cpuUsageUsec, 50_000, 'whichever object reads the folder');
      cg.oomBaseline(); // the next run
      assert.equal(cg.usage().cpuUsageUsec, 0);
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });
});

describe('oomExitReason', () => {
  const before = { oomKills: 3, limitHits: 10 };
  test('SIGKILL with oom_kill and the limit counter up: the memory reason', () => {
    assert.equal(oomExitReason(before, { oomKills: 4, limitHits: 11 }, { code: null, signal: 'SIGKILL' }, '1.5G'), 'killed: memory limit 1.5G reached');
  });
  test('the host ran out, not the cgroup', () => {
    assert.equal(oomExitReason(before, { oomKills: 4, limitHits: 10 }, { code: null, signal: 'SIGKILL' }, '1.5G'), 'killed: the host ran out of memory (kernel OOM killer)');
  });
  test('a child was OOM-killed and the gateway exited on its own', () => {
    assert.equal(
      oomExitReason(before, { oomKills: 5, limitHits: 12 }, { code: 1, signal: null }, '64M'),
      'exited with code 1 after the kernel OOM killer killed 2 of its processes: memory limit 64M reached',
    );
  });
  test('v1: the peak at the limit is the witness when failcnt stays put', () => {
    assert.equal(oomExitReason(before, { oomKills: 4, limitHits: 10, peakAtLimit: true }, { code: null, signal: 'SIGKILL' }, '64M'), 'killed: memory limit 64M reached');
  });
  test('no OOM kill: not an OOM exit, even as SIGKILL', () => {
    assert.equal(oomExitReason(before, before, { code: null, signal: 'SIGKILL' }, '1G'), undefined);
  });
});

describe('real cgroup v1 limits', { skip: cgroupSkipReason('v1') }, () => {
  test('unbounded allocation under limits.memory "64M" is OOM-killed and recognised', async () => {
    const cgroups = makeTestCgroups('v1');
    const tracker = new PidTracker();
    try {
      const cg = agentCgroup(cgroups.host, 'acme', 'hog');
      assert.ok(cg);
      cg.create();
      const limits = resolveLimits([{ memory: '1G' }, { memory: '64M' }]); // agent level wins
      cg.applyLimits(limits);
      assert.equal(cg.usage().memory.limit, 64 * 1024 * 1024);
      const before = cg.oomBaseline();
      const env = { PATH: fixturePath() };
      const child = spawnArgv(buildLaunchChain({ argv: [process.execPath, join(FIXTURES, 'memory-hog.mjs')], env, cgroupProcs: cg.procsFiles }), env);
      tracker.add(child.pid);
      const output = collectOutput(child);
      const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
      const after = cg.oomCounters();
      assert.equal(signal, 'SIGKILL', `the hog was SIGKILLed (code ${code}); output tail: ${output.text().slice(-200)}`);
      assert.match(output.text(), /allocated \d+/, 'it did allocate before dying');
      assert.equal(oomExitReason(before, after, { code, signal }, limits.memoryText), 'killed: memory limit 64M reached');
      assert.ok((cg.usage().memory.peak ?? 0) <= 64 * 1024 * 1024, 'usage never passed the limit');
      await waitFor(() => cg.isEmpty(), { timeoutMs: 3000 });
      cg.remove();
    } finally {
      tracker.killAll();
      await cgroups.cleanup();
    }
  });

  test('CPU: a run starts at 0 (oomBaseline restarts cpuacct.usage), not at what the previous runs used', async () => {
    const cgroups = makeTestCgroups('v1');
    const tracker = new PidTracker();
    try {
      const cg = agentCgroup(cgroups.host, 'acme', 'busy');
      assert.ok(cg);
      cg.create();
      cg.oomBaseline();
      const env = { PATH: fixturePath() };
      const burner = spawnArgv(buildLaunchChain({ argv: [process.execPath, '-e', 'for (;;) {}'], env, cgroupProcs: cg.procsFiles }), env);
      tracker.add(burner.pid);
      await waitFor(() => (cg.usage().cpuUsageUsec ?? 0) >= 100_000 || undefined, { timeoutMs: 20_000, what: 'the first run to use 0.1 s of CPU' });
      burner.kill('SIGKILL');
      await once(burner, 'exit');
      await waitFor(() => cg.isEmpty(), { timeoutMs: 3000 });
      assert.ok((cg.usage().cpuUsageUsec ?? 0) >= 100_000, 'a stopped agent keeps its last run\'s CPU');
      cg.oomBaseline(); // the next run starts
      assert.equal(cg.usage().cpuUsageUsec, 0, 'the new run does not carry the previous run\'s CPU');
      cg.remove();
    } finally {
      tracker.killAll();
      await cgroups.cleanup();
    }
  });

  test('pids: 32 stops a fork bomb in one agent while a sibling agent stays healthy', async () => {
    const cgroups = makeTestCgroups('v1');
    const tracker = new PidTracker();
    const sibling = await makeFakeAgent();
    try {
      const healthy = agentCgroup(cgroups.host, 'acme', 'calm');
      const bombed = agentCgroup(cgroups.host, 'acme', 'bomb');
      assert.ok(healthy && bombed);
      for (const cg of [healthy, bombed]) cg.create();
      bombed.applyLimits(resolveLimits([{ pids: 32 }]));
      healthy.applyLimits(resolveLimits([{ pids: 512 }]));
      const gw = spawnArgv(buildLaunchChain({ argv: sibling.spec.argv, env: sibling.spec.env, cgroupProcs: healthy.procsFiles }), sibling.spec.env, sibling.home);
      tracker.add(gw.pid);
      const health = () => fetch(`http://127.0.0.1:${sibling.port}/healthz`).then((r) => r.status === 200, () => false);
      await waitFor(health, { timeoutMs: 10_000, what: 'sibling fake gateway healthy' });

      const env = { PATH: fixturePath() };
      const bomb = spawnArgv(buildLaunchChain({ argv: ['/usr/bin/perl', join(FIXTURES, 'fork-bomb.pl'), '300'], env, cgroupProcs: bombed.procsFiles }), env);
      tracker.add(bomb.pid);
      const output = collectOutput(bomb);
      const summary = await waitFor(() => /forked (\d+) refused (\d+)/.exec(output.text()), { timeoutMs: 20_000, what: 'the fork bomb to give up' });
      const [forked, refused] = [Number(summary[1]), Number(summary[2])];
      assert.ok(forked <= 31, `at most 31 children next to the bomb itself, got ${forked}`);
      assert.ok(refused >= 300 - 31, `the kernel refused the rest, got ${refused}`);
      const usage = bombed.usage();
      assert.equal(usage.pids.limit, 32);
      assert.ok((usage.pids.current ?? 99) <= 32, `pids.current ${usage.pids.current} within the limit`);
      const events = parseKeyedCounters(await readFile(join(bombed.dirs.find((d) => d.includes('/pids/'))!, 'pids.events'), 'utf8'));
      assert.ok((events.max ?? 0) > 0, 'pids.events counts the refused forks');
      assert.equal(await health(), true, 'the sibling still answers /healthz');
      assert.ok(healthy.pids().includes(gw.pid as number), 'and it is still in its own cgroup');

      const seen = await bombed.killAll();
      assert.ok(seen.length >= forked, 'kill-all saw the bomb and its children');
      await waitFor(() => bombed.isEmpty(), { timeoutMs: 5000, what: 'bomb cgroup empty' });
      assert.equal(await health(), true, 'killing the bomb did not touch the sibling');
      for (const pid of seen) assert.equal(isAlive(pid), false);
    } finally {
      tracker.killAll();
      await cgroups.cleanup();
      await sibling.cleanup();
    }
  });
});

describe('real cgroup v2 without controllers', { skip: cgroupSkipReason('v2') }, () => {
  test('a set limit is refused with the reason; CPU usage is still read from cpu.stat', async () => {
    const cgroups = makeTestCgroups('v2');
    try {
      const cg = agentCgroup(cgroups.host, 'acme', 'korax');
      assert.ok(cg);
      cg.create();
      assert.throws(() => cg.applyLimits(resolveLimits([{ memory: '1.5G' }])), /limits\.memory cannot be applied: the memory controller is not enabled .*enabled: none/);
      cg.applyLimits({}); // nothing to enforce: fine without controllers
      const usage = cg.usage();
      assert.equal(typeof usage.cpuUsageUsec, 'number');
      assert.equal(usage.memory.current, null);
      cg.remove();
    } finally {
      await cgroups.cleanup();
    }
  });
});
