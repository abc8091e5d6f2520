// Parsers and names of the cgroup layer (pure, table-driven).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  agentCgroupName,
  cgroupDir,
  cgroupRootProblem,
  parseAgentCgroupName,
  parseCpuMax,
  parseKeyedCounters,
  parseLimitValue,
  parseMountinfo,
  parsePids,
  parseProcCgroup,
  resolveCgroupRoot,
} from './cgroup-parse.js';

const MOUNTINFO = [
  '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
  '35 31 0:32 /process_api /sys/fs/cgroup/memory ro,relatime - cgroup cgroup rw,memory',
  '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd',
  '41 31 0:38 / /sys/fs/cgroup/my\\040unified rw,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate',
  '50 23 8:1 / /data rw - ext4 /dev/sda1 rw',
].join('\n');

describe('parseMountinfo', () => {
  test('cgroup v1 and v2 mounts, controllers from super options, escapes decoded, ro noticed', () => {
    assert.deepEqual(parseMountinfo(MOUNTINFO), [
      { version: 1, mountPoint: '/sys/fs/cgroup/cpu,cpuacct', root: '/', controllers: ['cpu', 'cpuacct'], readOnly: false },
      { version: 1, mountPoint: '/sys/fs/cgroup/memory', root: '/process_api', controllers: ['memory'], readOnly: true },
      { version: 1, mountPoint: '/sys/fs/cgroup/systemd', root: '/', controllers: [], readOnly: false },
      { version: 2, mountPoint: '/sys/fs/cgroup/my unified', root: '/', controllers: [], readOnly: false },
    ]);
  });
  test('garbage lines are skipped', () => assert.deepEqual(parseMountinfo('nonsense\n\n1 2 3'), []));
});

describe('parseProcCgroup', () => {
  test('hybrid host lines', () => {
    assert.deepEqual(parseProcCgroup('9:name=systemd:/\n4:memory:/process_api/x\n2:cpu,cpuacct:/\n0::/user.slice\nbad line\n'), [
      { hierarchy: 9, controllers: ['name=systemd'], path: '/' },
      { hierarchy: 4, controllers: ['memory'], path: '/process_api/x' },
      { hierarchy: 2, controllers: ['cpu', 'cpuacct'], path: '/' },
      { hierarchy: 0, controllers: [], path: '/user.slice' },
    ]);
  });
});

describe('cgroupDir / roots', () => {
  test('maps a cgroup path through the mount root; invisible ones are undefined', () => {
    const m = { mountPoint: '/sys/fs/cgroup/memory', root: '/process_api' };
    assert.equal(cgroupDir(m, '/process_api/x/agents'), '/sys/fs/cgroup/memory/x/agents');
    assert.equal(cgroupDir(m, '/process_api'), '/sys/fs/cgroup/memory');
    assert.equal(cgroupDir(m, '/other'), undefined);
    assert.equal(cgroupDir({ mountPoint: '/sys/fs/cgroup', root: '/' }, '/fleetd'), '/sys/fs/cgroup/fleetd');
  });
  test('resolveCgroupRoot: absolute as is, relative below fleetd\'s own cgroup', () => {
    assert.equal(resolveCgroupRoot('/fleetd', '/system.slice/x.service'), '/fleetd');
    assert.equal(resolveCgroupRoot('fleetd', '/system.slice/x.service'), '/system.slice/x.service/fleetd');
    assert.equal(resolveCgroupRoot('fleetd', '/'), '/fleetd');
  });
  const problems: Array<[string, RegExp | undefined]> = [
    ['/fleetd', undefined],
    ['fleetd/sub', undefined],
    ['/a.b_c@d:e+f-g', undefined],
    ['/', /below the hierarchy root/],
    ['', /below the hierarchy root/],
    ['/fleetd/', /must not end with/],
    ['/a//b', /must not end with "\/" or contain "\/\/"/],
    ['/a/../b', /"\." or "\.\."/],
    ['/a b', /may only use/],
    ['/memory.max', /looks like a cgroup interface file/],
    ['/x/cgroup.procs', /looks like a cgroup interface file/],
  ];
  for (const [root, expected] of problems) {
    test(`cgroupRootProblem(${JSON.stringify(root)})`, () => {
      const p = cgroupRootProblem(root);
      if (expected) assert.match(p ?? '', expected);
      else assert.equal(p, undefined);
    });
  }
});

describe('agent cgroup names', () => {
  test('round trip, and "--" in ids stays unambiguous', () => {
    assert.equal(agentCgroupName('acme', 'korax'), 'acme@korax');
    assert.deepEqual(parseAgentCgroupName('acme@korax'), { fleet: 'acme', agent: 'korax' });
    assert.notEqual(agentCgroupName('a--b', 'c'), agentCgroupName('a', 'b--c'));
    assert.deepEqual(parseAgentCgroupName(agentCgroupName('a--b', 'c')), { fleet: 'a--b', agent: 'c' });
  });
  test('foreign folders are not agents', () => {
    for (const name of ['supervisor', 'a@b@c', 'Acme@korax', '@x', 'memory.max', 'a@']) assert.equal(parseAgentCgroupName(name), undefined, name);
  });
  test('invalid ids are refused', () => assert.throws(() => agentCgroupName('../x', 'y'), /invalid agent ids/));
});

describe('value files', () => {
  test('parseKeyedCounters', () => {
    assert.deepEqual(parseKeyedCounters('low 0\noom 2\noom_kill 1\n'), { low: 0, oom: 2, oom_kill: 1 });
    assert.deepEqual(parseKeyedCounters('oom_kill_disable 0\nunder_oom 0\noom_kill 3'), { oom_kill_disable: 0, under_oom: 0, oom_kill: 3 });
  });
  test('parseLimitValue: bytes, "max", v1\'s unlimited, -1, junk', () => {
    assert.equal(parseLimitValue('1610612736\n'), 1610612736);
    assert.equal(parseLimitValue('max\n'), null);
    assert.equal(parseLimitValue('9223372036854771712\n'), null);
    assert.equal(parseLimitValue('-1'), null);
    assert.equal(parseLimitValue('abc'), undefined);
    assert.equal(parseLimitValue(undefined), undefined);
  });
  test('parseCpuMax', () => {
    assert.equal(parseCpuMax('150000 100000\n'), 1.5);
    assert.equal(parseCpuMax('max 100000'), null);
    assert.equal(parseCpuMax(undefined), undefined);
  });
  test('parsePids: unique, sorted', () => assert.deepEqual(parsePids('12\n3\n12\n\n7\n'), [3, 7, 12]));
});
