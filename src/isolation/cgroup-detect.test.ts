// Which hierarchy fleetd picks and why: host layouts given as /proc texts and a fake
// "writable?" answer (pure), then the real answer on this hybrid host.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isRoot } from '../../test/support/cgroup-testkit.js';
import { describeCgroupHost, detectCgroupHost, type CgroupConfig, type DetectDeps } from './cgroup-detect.js';

const PURE_V2 = '30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate';
const HYBRID = [
  '32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu',
  '33 31 0:30 / /sys/fs/cgroup/cpuacct rw - cgroup cgroup rw,cpuacct',
  '35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory',
  '37 31 0:34 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer',
  '39 31 0:36 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids',
  '40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd',
  '41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw',
].join('\n');
const HYBRID_SELF = '9:name=systemd:/\n8:pids:/\n6:freezer:/\n4:memory:/process_api/abc\n2:cpuacct:/\n1:cpu:/\n0::/\n';

function deps(mountinfo: string, self: string, files: Record<string, string> = {}, writable: (dir: string) => boolean = () => true): DetectDeps {
  return {
    readFile: (path) => (path === '/proc/self/mountinfo' ? mountinfo : path === '/proc/self/cgroup' ? self : files[path]),
    canWrite: writable,
    uid: 990,
  };
}
const AUTO: CgroupConfig = { mode: 'auto' };

describe('detectCgroupHost', () => {
  test('systemd Delegate=yes + DelegateSubgroup=supervisor: the unit cgroup is the root', () => {
    const host = detectCgroupHost(AUTO, deps(PURE_V2, '0::/system.slice/fleetd.service/supervisor\n', { '/sys/fs/cgroup/system.slice/fleetd.service/cgroup.controllers': 'cpuset cpu io memory pids\n' }));
    assert.deepEqual(host, {
      kind: 'v2',
      source: 'delegated',
      mountPoint: '/sys/fs/cgroup',
      ownPath: '/system.slice/fleetd.service/supervisor',
      rootPath: '/system.slice/fleetd.service',
      rootDir: '/sys/fs/cgroup/system.slice/fleetd.service',
      controllers: ['memory', 'cpu', 'pids'],
    });
    assert.equal(describeCgroupHost(host), 'cgroup v2 (memory, cpu, pids) under /sys/fs/cgroup/system.slice/fleetd.service/agents (delegated subtree)');
  });

  test('Delegate=yes without a subgroup: fleetd\'s own cgroup is the root (it moves into supervisor at preparation)', () => {
    const host = detectCgroupHost(AUTO, deps(PURE_V2, '0::/system.slice/fleetd.service\n', { '/sys/fs/cgroup/system.slice/fleetd.service/cgroup.controllers': 'memory pids cpu' }));
    assert.equal(host.kind === 'v2' && host.rootPath, '/system.slice/fleetd.service');
  });

  test('not delegated (not writable), no v1: none, saying what to do', () => {
    const host = detectCgroupHost(AUTO, deps(PURE_V2, '0::/system.slice/fleetd.service\n', {}, () => false));
    assert.equal(host.kind, 'none');
    assert.equal(
      describeCgroupHost(host),
      'no cgroup: tree walk fallback because fleetd\'s cgroup /sys/fs/cgroup/system.slice/fleetd.service is not writable by uid 990 (not delegated: set Delegate=yes in the systemd unit); no cgroup v1 controller (memory, cpu, cpuacct, pids, freezer) is mounted',
    );
  });

  test('fleetd in the v2 root without cgroup.root: not a delegated subtree', () => {
    const host = detectCgroupHost(AUTO, deps(PURE_V2, '0::/\n'));
    assert.equal(host.kind, 'none');
    assert.match(describeCgroupHost(host), /runs in the root of the cgroup2 hierarchy at \/sys\/fs\/cgroup, not in a subtree delegated to it; run it under systemd with Delegate=yes, or set cgroup.root/);
  });

  test('configured root, relative to fleetd\'s own cgroup; controllers of a root not yet made come from its parent', () => {
    const host = detectCgroupHost({ mode: 'auto', root: 'fleetd' }, deps(PURE_V2, '0::/\n', { '/sys/fs/cgroup/cgroup.subtree_control': 'cpu memory pids' }));
    assert.equal(host.kind === 'v2' && `${host.source} ${host.rootDir} ${host.controllers.join(',')}`, 'configured /sys/fs/cgroup/fleetd memory,cpu,pids');
  });

  test('hybrid host (this machine\'s layout): v1 wins over a controller-less v2, each hierarchy rooted at fleetd\'s own cgroup', () => {
    const host = detectCgroupHost(AUTO, deps(HYBRID, HYBRID_SELF));
    assert.equal(host.kind, 'v1');
    if (host.kind !== 'v1') return;
    assert.deepEqual(
      host.hierarchies.map((h) => `${h.controllers.join(',')} ${h.rootDir}`),
      [
        'cpu /sys/fs/cgroup/cpu/openclaw-fleetd',
        'cpuacct /sys/fs/cgroup/cpuacct/openclaw-fleetd',
        'memory /sys/fs/cgroup/memory/process_api/abc',
        'freezer /sys/fs/cgroup/freezer/openclaw-fleetd',
        'pids /sys/fs/cgroup/pids/openclaw-fleetd',
      ],
    );
    assert.equal(
      describeCgroupHost(host),
      'cgroup v1 (cpu, cpuacct, memory, freezer, pids) under /sys/fs/cgroup/cpu/openclaw-fleetd/agents, /sys/fs/cgroup/cpuacct/openclaw-fleetd/agents, /sys/fs/cgroup/memory/process_api/abc/agents, /sys/fs/cgroup/freezer/openclaw-fleetd/agents, /sys/fs/cgroup/pids/openclaw-fleetd/agents',
    );
    const same = detectCgroupHost({ mode: 'auto', root: '/fleetd' }, deps(HYBRID, HYBRID_SELF));
    assert.equal(describeCgroupHost(same), 'cgroup v1 (cpu, cpuacct, memory, freezer, pids) under /sys/fs/cgroup/{cpu,cpuacct,memory,freezer,pids}/fleetd/agents');
  });

  test('mode v2 forces the controller-less v2 of a hybrid host', () => {
    const host = detectCgroupHost({ mode: 'v2', root: '/fleetd' }, deps(HYBRID, HYBRID_SELF));
    assert.equal(describeCgroupHost(host), 'cgroup v2 without controllers (membership, cgroup.kill and freeze; no limits) under /sys/fs/cgroup/unified/fleetd/agents (cgroup.root)');
  });

  test('v1 hierarchies that cannot be used are skipped with their reason; none usable = fallback', () => {
    const host = detectCgroupHost({ mode: 'v1' }, deps(HYBRID, HYBRID_SELF, {}, (dir) => dir.includes('/pids/')));
    assert.equal(host.kind === 'v1' && host.hierarchies.map((h) => h.controllers[0]).join(), 'pids');
    assert.equal(host.kind === 'v1' && host.skipped.length, 4);
    const none = detectCgroupHost({ mode: 'v1' }, deps(HYBRID, HYBRID_SELF, {}, () => false));
    assert.match(describeCgroupHost(none), /^no cgroup: tree walk fallback because no usable cgroup v1 controller \(cpu: \/sys\/fs\/cgroup\/cpu\/openclaw-fleetd is not writable by uid 990; /);
  });

  test('read-only cgroup2 (a container): refused with the reason', () => {
    const host = detectCgroupHost({ mode: 'v2', root: '/x' }, deps('30 23 0:26 / /sys/fs/cgroup ro,nosuid - cgroup2 cgroup2 rw', '0::/\n'));
    assert.equal(describeCgroupHost(host), 'no cgroup: tree walk fallback because the cgroup2 filesystem at /sys/fs/cgroup is mounted read-only');
  });

  test('mode off', () => assert.equal(describeCgroupHost(detectCgroupHost({ mode: 'off' })), 'no cgroup: tree walk fallback because cgroup.mode is "off" in the manifest'));
});

describe('detectCgroupHost on this host', { skip: isRoot() ? undefined : 'needs root' }, () => {
  test('auto picks what the host offers and says so in words', () => {
    const host = detectCgroupHost({ mode: 'auto', root: 'fleetd-detect' });
    assert.notEqual(host.kind, 'none', describeCgroupHost(host));
    assert.match(describeCgroupHost(host), /^cgroup v[12] \(/);
  });
});
