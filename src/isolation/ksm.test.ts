// KSM opt-in: detection in every case (fake host facts), and on this kernel a real process
// started through the wrapper (also after setpriv, as the launch chain orders it) shows
// ksm_merge_any: yes in /proc/<pid>/ksm_stat while a plain one does not.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fixturePath, isRoot, spawnArgv } from '../../test/support/cgroup-testkit.js';
import { isAlive } from '../supervise/proc.js';
import { waitFor } from '../util/wait-for.js';
import { detectKsm, ksmdCpuTicks, readKsmStat, type KsmDeps } from './ksm.js';
import { buildLaunchChain, type KsmTool } from './launch-chain.js';
import { findSystemTool } from './system-tools.js';
import { findSetpriv, lookupUser } from './user-lookup.js';

function fakeDeps(over: Partial<KsmDeps> & { run?: string | undefined; tools?: string[] }): KsmDeps {
  return {
    readFile: (p) => (p === '/sys/kernel/mm/ksm/run' ? over.run : undefined),
    findTool: (name) => (over.tools ?? ['perl', 'python3']).includes(name) ? `/usr/bin/${name}` : undefined,
    probe: () => 'OK 0',
    arch: 'x64',
    release: '6.18.0',
    ...over,
  };
}

describe('detectKsm (described hosts)', () => {
  test('on, with ksmd running', () => {
    const k = detectKsm(fakeDeps({ run: '1\n' }));
    assert.deepEqual([k.usable, k.running, k.words, k.tool], [true, true, 'on (perl prctl wrapper; ksmd running)', { kind: 'perl', path: '/usr/bin/perl', syscall: 157 }]);
  });
  test('ksmd off: usable, and says how to turn it on', () => {
    const k = detectKsm(fakeDeps({ run: '0\n' }));
    assert.equal(k.usable, true);
    assert.equal(k.words, 'requested but idle: ksmd is off (/sys/kernel/mm/ksm/run = 0), nothing is merged until it runs: echo 1 > /sys/kernel/mm/ksm/run (perl prctl wrapper)');
  });
  test('no KSM in the kernel', () => assert.match(detectKsm(fakeDeps({ run: undefined })).words, /this kernel has no KSM/));
  test('kernel too old for PR_SET_MEMORY_MERGE', () => {
    const k = detectKsm(fakeDeps({ run: '1', probe: () => 'ERR 22', release: '6.1.0' }));
    assert.deepEqual([k.usable, k.words], [false, 'unavailable: kernel 6.1.0 does not support prctl(PR_SET_MEMORY_MERGE) (Linux 6.4 or later; probe said "ERR 22")']);
  });
  test('python3 when perl is missing, or the arch has no known syscall number', () => {
    assert.equal(detectKsm(fakeDeps({ run: '1', tools: ['python3'] })).tool?.kind, 'python3');
    assert.equal(detectKsm(fakeDeps({ run: '1', arch: 'mips64el' })).tool?.kind, 'python3');
    assert.match(detectKsm(fakeDeps({ run: '1', tools: [] })).words, /neither perl nor python3/);
  });
});

const here = existsSync('/proc/self/ksm_stat') ? detectKsm() : undefined;
describe('KSM on this kernel', { skip: here?.usable ? undefined : `not usable here: ${here?.words ?? 'no /proc/self/ksm_stat'}` }, () => {
  test('the real probe answers, and ksmd CPU time can be read', () => {
    assert.equal(here?.usable, true);
    assert.equal(typeof ksmdCpuTicks(), 'number');
  });

  for (const tool of ['perl', 'python3'] as const) {
    test(`a process started through the ${tool} wrapper has merging on; a plain one does not`, async () => {
      const python = findSystemTool('python3');
      const ksm: KsmTool | undefined = tool === 'perl' ? here?.tool : python ? { kind: 'python3', path: python } : undefined;
      if (!ksm) return; // no python3 in the system folders
      const env = { PATH: fixturePath() };
      const merged = spawnArgv(buildLaunchChain({ argv: ['/bin/sleep', '1000'], env, ksm }), env);
      const plain = spawnArgv(['/bin/sleep', '1000'], env);
      try {
        const stat = await waitFor(() => (readKsmStat(merged.pid as number)?.mergeAny ? readKsmStat(merged.pid as number) : undefined), { timeoutMs: 5000, what: 'ksm_merge_any: yes' });
        assert.equal(stat.mergeAny, true);
        assert.equal(readKsmStat(plain.pid as number)?.mergeAny, false);
        assert.match(execFileSync('cat', [`/proc/${merged.pid}/comm`], { encoding: 'utf8' }), /^sleep/, 'the wrapper exec\'d in place');
      } finally {
        merged.kill('SIGKILL');
        plain.kill('SIGKILL');
        await waitFor(() => !isAlive(merged.pid as number) && !isAlive(plain.pid as number), { timeoutMs: 3000 });
      }
    });
  }

  test('after setpriv, as the tenant user (the launch chain order), merging is on too', { skip: isRoot() ? undefined : 'needs root' }, async () => {
    const name = `fdt-${randomBytes(3).toString('hex')}`;
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', name]);
    try {
      const user = lookupUser({ name, setAt: 'test' });
      const env = { PATH: fixturePath() };
      const child = spawnArgv(buildLaunchChain({ argv: ['/bin/sleep', '1000'], env, runAs: { uid: user.uid, gid: user.gid, setpriv: findSetpriv() }, ksm: here!.tool! }), env);
      try {
        await waitFor(() => readKsmStat(child.pid as number)?.mergeAny, { timeoutMs: 5000, what: 'ksm_merge_any: yes as the tenant' });
        assert.match(execFileSync('ps', ['-o', 'uid=', '-p', String(child.pid)], { encoding: 'utf8' }).trim(), new RegExp(`^${user.uid}$`));
      } finally {
        child.kill('SIGKILL');
        await waitFor(() => !isAlive(child.pid as number), { timeoutMs: 3000 });
      }
    } finally {
      spawnSync('userdel', [name]);
    }
  });
});
