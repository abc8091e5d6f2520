// The daemon's entry points: host setup (fallback with the reason when preparation fails),
// per-agent preparation (limits never silently dropped), the isolated launch, and the
// status view, ending with a fake gateway run for real under cgroup v1 limits.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { cgroupSkipReason, makeTestCgroups, spawnArgv } from '../../test/support/cgroup-testkit.js';
import { makeFakeAgent, PidTracker } from '../../test/support/testkit.js';
import { FleetError } from '../errors.js';
import { waitFor } from '../util/wait-for.js';
import { isolateLaunch, prepareAgentIsolation, setupIsolationHost, type IsolationHost } from './agent-isolation.js';
import type { AgentIsolationSpec } from './agent-spec.js';
import { V2AgentCgroup } from './cgroup-v2.js';
import { agentIsolationView, describeAgentIsolation, isolationHostView, memoryText } from './isolation-status.js';
import type { KsmSupport } from './ksm.js';
import { resolveLimits } from './limits.js';
import { stopCgroup } from './cgroup-stop.js';
import { withCgroupJoin } from './launch-chain.js';

const NONE: IsolationHost = { cgroups: { kind: 'none', reason: 'no cgroup2 filesystem is mounted' }, moved: [], view: isolationHostView({ kind: 'none', reason: 'no cgroup2 filesystem is mounted' }) };
const IDLE_KSM: KsmSupport = { usable: true, running: false, tool: { kind: 'perl', path: '/usr/bin/perl', syscall: 157 }, words: 'requested but idle: ksmd is off' };

describe('setupIsolationHost', () => {
  test('a root that cannot be prepared: the fallback, with the reason', () => {
    const host = setupIsolationHost({ mode: 'auto' }, true, {
      detect: () => ({ kind: 'v2', source: 'configured', mountPoint: '/sys/fs/cgroup', ownPath: '/', rootPath: '/x', rootDir: '/sys/fs/cgroup/x', controllers: ['memory', 'cpu', 'pids'] }),
      prepare: () => {
        throw new FleetError('PROVISION_FAILED', 'cgroup root /sys/fs/cgroup/x holds processes that are not fleetd\'s (77)');
      },
      detectKsm: () => IDLE_KSM,
    });
    assert.equal(host.view.mode, 'none');
    assert.equal(host.view.description, "no cgroup: tree walk fallback because preparing the cgroup root failed: cgroup root /sys/fs/cgroup/x holds processes that are not fleetd's (77)");
    assert.equal(host.view.ksm, 'KSM requested but idle: ksmd is off');
  });
});

describe('prepareAgentIsolation', () => {
  const spec = (over: Partial<AgentIsolationSpec> = {}): AgentIsolationSpec => ({ limits: {}, merge: false, ...over });
  test('limits without a cgroup are refused, not dropped', () => {
    assert.throws(
      () => prepareAgentIsolation(NONE, spec({ limits: resolveLimits([{ memory: '1.5G', pids: 512 }]) }), 'acme', 'korax'),
      /^FleetError: acme\/korax has limits \(memory 1\.5G, 512 pids\) but fleetd has no cgroup to enforce them: no cgroup2 filesystem is mounted$/,
    );
  });
  test('no limits, no cgroup: fine; a user goes through prepareRunAs; merge without usable KSM is a note', () => {
    const iso = prepareAgentIsolation({ ...NONE, ksm: { usable: false, running: false, words: 'unavailable: this kernel has no KSM' } }, spec({ merge: true, user: { name: 'acme-gw', setAt: 'fleets.acme.user' } }), 'acme', 'korax', {
      prepareRunAs: (choice) => ({ user: { name: choice.name, uid: 990, gid: 985, home: '/', shell: '/bin/false', groups: [985] }, runAs: { uid: 990, gid: 985, setpriv: '/usr/bin/setpriv' } }),
    });
    assert.equal(iso.cgroup, undefined);
    assert.deepEqual(iso.runAs, { uid: 990, gid: 985, setpriv: '/usr/bin/setpriv' });
    assert.equal(iso.ksm, undefined);
    assert.deepEqual(iso.notes, ['memory.merge requested, gateway runs without it: KSM unavailable: this kernel has no KSM']);
  });
});

describe('isolateLaunch (pure)', () => {
  test('heap flag after node, then join, setpriv, KSM in that order; env only gains what the manifest would', () => {
    const cgroup = new V2AgentCgroup('acme@korax', '/sys/fs/cgroup/x/agents/acme@korax', ['memory']);
    const { argv: afterJoin, env, heapMiB, cgroupProcs } = isolateLaunch(
      { argv: ['/rt/node', '/rt/openclaw.mjs', 'gateway', 'run', '--port', '20000'], env: { PATH: '/bin' } },
      { spec: { limits: resolveLimits([{ memory: '1G' }]), merge: true }, cgroup, runAs: { uid: 990, gid: 985, setpriv: '/usr/bin/setpriv' }, ksm: IDLE_KSM.tool!, notes: [] },
    );
    assert.equal(heapMiB, 512);
    assert.deepEqual(env, { PATH: '/bin' });
    // the join is the spawner's (the native shim's child; others through withCgroupJoin), apart from the argv
    assert.deepEqual(cgroupProcs, ['/sys/fs/cgroup/x/agents/acme@korax/cgroup.procs']);
    assert.equal(afterJoin[0], '/usr/bin/setpriv');
    assert.ok(!afterJoin.some((a) => a.includes('cgroup.procs')), 'no join step in the argv');
    const argv = withCgroupJoin(afterJoin, cgroupProcs, env);
    assert.deepEqual(argv.slice(argv.indexOf('/rt/node')), ['/rt/node', '--max-old-space-size=512', '/rt/openclaw.mjs', 'gateway', 'run', '--port', '20000']);
    assert.ok(argv.indexOf('/sys/fs/cgroup/x/agents/acme@korax/cgroup.procs') < argv.indexOf('/usr/bin/setpriv'));
    assert.ok(argv.indexOf('/usr/bin/setpriv') < argv.indexOf('/usr/bin/perl'));
  });
  test('nothing to isolate: the argv as it was', () => {
    assert.deepEqual(isolateLaunch({ argv: ['gw', '--port', '1'], env: {} }, { spec: { limits: {}, merge: false }, notes: [] }), { argv: ['gw', '--port', '1'], env: {} });
  });
});

describe('status', () => {
  test('memoryText', () => {
    assert.equal(memoryText(432013312, 1610612736), '412M / 1.5G (27 %)');
    assert.equal(memoryText(432013312, null), '412M, no limit');
    assert.equal(memoryText(null, 1), 'unknown');
  });
  test('fallback view: tree RSS, limits from the manifest, merge words', () => {
    const view = agentIsolationView({ spec: { limits: {}, merge: true, user: { name: 'acme-gw', setAt: 'x' } }, ksm: IDLE_KSM, treeRssBytes: 800 * 1024 * 1024, running: true });
    assert.deepEqual(view, {
      cgroup: null,
      user: 'acme-gw',
      limits: { memory: null, cpu: null, pids: null },
      memory: { currentBytes: 838860800, limitBytes: null, peakBytes: null, source: 'tree-rss', text: '800M, no limit' },
      cpuSeconds: null,
      pids: { current: null, limit: null },
      oomKills: null,
      merge: 'KSM requested but idle: ksmd is off',
    });
  });
  test('describeAgentIsolation', () => {
    assert.equal(describeAgentIsolation({ limits: resolveLimits([{ memory: '1.5G', cpu: 1.5 }]), merge: true, user: { name: 'acme-gw', setAt: 'x' } }, 768), 'memory 1.5G (heap 768M), 1.5 CPUs, KSM, as user acme-gw');
    assert.equal(describeAgentIsolation({ limits: {}, merge: false }), 'no limits');
  });
});

describe('a fake gateway under real cgroup v1 limits', { skip: cgroupSkipReason('v1') }, () => {
  test('prepared, launched isolated, healthy; status from the cgroup; stopped clean', async () => {
    const cgroups = makeTestCgroups('v1'); // the root, prepared the way setupIsolationHost does
    const fake = await makeFakeAgent();
    const tracker = new PidTracker();
    const dir = await mkdtemp(join(tmpdir(), 'fleetd-iso-'));
    try {
      const host: IsolationHost = { cgroups: cgroups.host, moved: [], view: isolationHostView(cgroups.host) };
      assert.equal(host.view.mode, 'cgroup-v1');
      const spec: AgentIsolationSpec = { limits: resolveLimits([{ memory: '256M', cpu: 0.5, pids: 64 }]), merge: false };
      const iso = prepareAgentIsolation(host, spec, 'acme', 'fake');
      const { argv, env, heapMiB, cgroupProcs } = isolateLaunch({ argv: [process.execPath, ...fake.spec.argv.slice(1)], env: fake.spec.env }, iso);
      assert.equal(heapMiB, 128);
      const child = spawnArgv(withCgroupJoin(argv, cgroupProcs, env), env, fake.home);
      tracker.add(child.pid);
      await waitFor(() => fetch(`http://127.0.0.1:${fake.port}/healthz`).then((r) => r.ok, () => false), { timeoutMs: 10_000, what: 'fake gateway healthy' });
      const view = agentIsolationView({ spec, cgroup: iso.cgroup, running: true });
      assert.equal(view.memory.source, 'cgroup');
      assert.equal(view.memory.limitBytes, 256 * 1024 * 1024);
      assert.ok((view.memory.currentBytes ?? 0) > 0 && (view.memory.currentBytes ?? 0) < 256 * 1024 * 1024, view.memory.text);
      assert.match(view.memory.text, / \/ 256M \(\d+ %\)$/);
      assert.equal(view.pids.limit, 64);
      assert.ok((view.pids.current ?? 0) >= 3, 'the fake gateway, its helper and worker (and their threads)');
      assert.equal(typeof view.cpuSeconds, 'number');
      assert.equal(view.oomKills, 0);
      assert.deepEqual(view.limits, { memory: '256M', cpu: 0.5, pids: 64 });
      const report = await stopCgroup(iso.cgroup!, { timeoutMs: 3000 });
      assert.deepEqual(report.survivors, []);
      assert.deepEqual(report.killed, [], 'the fake gateway stops on SIGTERM, helpers included');
      assert.deepEqual(tracker.alive(), []);
    } finally {
      tracker.killAll();
      await cgroups.cleanup();
      await fake.cleanup();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
