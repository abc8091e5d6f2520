// Preparing fleetd's root on real cgroup v2, including the no-internal-process rule. This
// host's v2 hierarchy offers no memory/cpu/pids controller, but it does offer hugetlb, and
// the kernel applies the rule to any controller: the test runs fleetd's preparation with
// hugetlb in their place. The hierarchy root's subtree_control gets +hugetlb for the test
// (put back as found), and the test process plays fleetd: it moves itself into a
// throw-away cgroup first, so "fleetd lives in its root" is real.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { cgroupSkipReason, fixturePath, spawnArgv } from '../../test/support/cgroup-testkit.js';
import { isAlive } from '../supervise/proc.js';
import { waitFor } from '../util/wait-for.js';
import { agentCgroup } from './cgroup-agent.js';
import { detectCgroupHost } from './cgroup-detect.js';
import { makeCgroupDir, removeCgroupTree } from './cgroup-files.js';
import { parseMountinfo } from './cgroup-parse.js';
import { prepareCgroupHost } from './cgroup-prepare.js';
import { buildLaunchChain } from './launch-chain.js';

const top = parseMountinfo(existsSync('/proc/self/mountinfo') ? readFileSync('/proc/self/mountinfo', 'utf8') : '').find((m) => m.version === 2)?.mountPoint;
const words = (file: string) => readFileSync(file, 'utf8').trim().split(/\s+/).filter(Boolean);
const offersHugetlb = top !== undefined && existsSync(join(top, 'cgroup.controllers')) && words(join(top, 'cgroup.controllers')).includes('hugetlb');
const skip = cgroupSkipReason('v2') ?? (offersHugetlb ? undefined : 'the cgroup2 root offers no hugetlb controller to stand in');
const ownV2 = () => readFileSync('/proc/self/cgroup', 'utf8').match(/^0::(.*)$/m)?.[1];

// Removes a test root (retrying while its last process is being reaped) and puts the
// hierarchy root's hugetlb back as it was.
async function removeAndRestore(rootDir: string, hadHugetlb: boolean): Promise<void> {
  await waitFor(
    () => {
      try {
        removeCgroupTree(rootDir);
        return true;
      } catch {
        return false;
      }
    },
    { timeoutMs: 3000, what: `removal of ${rootDir}` },
  );
  if (!hadHugetlb) writeFileSync(join(top as string, 'cgroup.subtree_control'), '-hugetlb');
}

describe('prepareCgroupHost on real cgroup v2', { skip }, () => {
  test('fleetd living in its root moves into <root>/supervisor before enabling controllers; agents get them', async () => {
    const mount = top as string;
    const hadHugetlb = words(join(mount, 'cgroup.subtree_control')).includes('hugetlb');
    const name = `fleetd-test-${randomBytes(4).toString('hex')}`;
    const rootDir = join(mount, name);
    const ownBefore = ownV2();
    let child: ReturnType<typeof spawnArgv> | undefined;
    try {
      if (!hadHugetlb) writeFileSync(join(mount, 'cgroup.subtree_control'), '+hugetlb');
      // fleetd started by systemd into its unit's cgroup (Delegate=yes, no DelegateSubgroup=)
      makeCgroupDir(rootDir);
      writeFileSync(join(rootDir, 'cgroup.procs'), String(process.pid));
      assert.equal(ownV2(), `/${name}`);
      // the rule itself: with a process inside, enabling a controller below is refused
      assert.throws(() => writeFileSync(join(rootDir, 'cgroup.subtree_control'), '+hugetlb'), /EBUSY/);

      const host = detectCgroupHost({ mode: 'v2' });
      assert.equal(host.kind === 'v2' && `${host.source} ${host.rootDir}`, `delegated ${rootDir}`);
      const prepared = prepareCgroupHost(host, { controllers: ['hugetlb'] });
      assert.deepEqual(prepared.moved, [process.pid]);
      assert.equal(ownV2(), `/${name}/supervisor`, 'fleetd now lives in the supervisor leaf');
      assert.deepEqual(words(join(rootDir, 'cgroup.subtree_control')), ['hugetlb']);
      assert.deepEqual(words(join(rootDir, 'agents', 'cgroup.subtree_control')), ['hugetlb']);
      assert.equal(prepared.host.kind === 'v2' && prepared.host.controllers.join(), 'hugetlb');

      // an agent cgroup below gets the controller, and a gateway joins it through the chain
      const cg = agentCgroup(prepared.host, 'acme', 'korax');
      assert.ok(cg);
      cg.create();
      assert.ok(words(join(cg.dirs[0]!, 'cgroup.controllers')).includes('hugetlb'));
      const env = { PATH: fixturePath() };
      child = spawnArgv(buildLaunchChain({ argv: ['/bin/sleep', '1000'], env, cgroupProcs: cg.procsFiles }), env);
      const pid = child.pid as number;
      await waitFor(() => cg.pids().includes(pid), { timeoutMs: 3000, what: 'the sleeper in the agent cgroup' });

      // a restarted fleetd (detected from the supervisor leaf) finds the same root and moves nobody
      const again = prepareCgroupHost(detectCgroupHost({ mode: 'v2' }), { controllers: ['hugetlb'] });
      assert.deepEqual(again.moved, []);
      assert.equal(again.host.kind === 'v2' && again.host.rootDir, rootDir);

      await cg.killAll();
      await waitFor(() => !isAlive(pid) && cg.isEmpty(), { timeoutMs: 3000, what: 'agent cgroup empty' });
    } finally {
      if (child?.pid !== undefined && isAlive(child.pid)) child.kill('SIGKILL');
      writeFileSync(join(mount, 'cgroup.procs'), String(process.pid));
      await removeAndRestore(rootDir, hadHugetlb);
    }
    assert.equal(ownV2(), ownBefore, 'the test process is back where it was');
  });

  test('a configured root holding processes that are not fleetd\'s is refused, nothing moved', async () => {
    const mount = top as string;
    const hadHugetlb = words(join(mount, 'cgroup.subtree_control')).includes('hugetlb');
    const rootDir = join(mount, `fleetd-test-${randomBytes(4).toString('hex')}`);
    const stranger = spawnArgv(['/bin/sleep', '1000'], { PATH: fixturePath() });
    try {
      if (!hadHugetlb) writeFileSync(join(mount, 'cgroup.subtree_control'), '+hugetlb');
      makeCgroupDir(rootDir);
      writeFileSync(join(rootDir, 'cgroup.procs'), String(stranger.pid));
      const host = detectCgroupHost({ mode: 'v2', root: `/${rootDir.slice(mount.length + 1)}` });
      assert.throws(() => prepareCgroupHost(host, { controllers: ['hugetlb'] }), /holds processes that are not fleetd's \(\d+\), so controllers cannot be enabled below it \(no-internal-process rule\)/);
      assert.equal(readFileSync(join(rootDir, 'cgroup.procs'), 'utf8').trim(), String(stranger.pid), 'the stranger was not moved');
    } finally {
      stranger.kill('SIGKILL');
      await waitFor(() => !isAlive(stranger.pid as number), { timeoutMs: 3000 });
      await removeAndRestore(rootDir, hadHugetlb);
    }
  });
});
