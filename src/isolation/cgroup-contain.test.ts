// Real cgroups on this host, v1 and v2: a gateway placed through the launch chain cannot
// leave its cgroup (immediate fork, `setsid -f env -i` daemons at start and later), the
// leftover scan finds every one of them, stop/kill-all leave nothing, and a process outside
// the cgroup is never touched.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { FIXTURES } from '../../test/support/paths.js';
import { PidTracker } from '../../test/support/testkit.js';
import { cgroupSkipReason, fixturePath, makeTestCgroups, procCgroupLines, procEnviron, spawnArgv } from '../../test/support/cgroup-testkit.js';
import { isAlive, readStat } from '../supervise/proc.js';
import { waitFor } from '../util/wait-for.js';
import { agentCgroup, listAgentCgroups } from './cgroup-agent.js';
import { stopCgroup } from './cgroup-stop.js';
import { buildLaunchChain } from './launch-chain.js';

const ESCAPER = join(FIXTURES, 'escaping-daemon.mjs');

interface Roles {
  main: number;
  child: number;
  'daemon-early': number;
  'daemon-late': number;
}

async function readRoles(file: string): Promise<Roles | undefined> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const roles: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [role, pid] = line.split(' ');
    if (role && pid) roles[role] = Number(pid);
  }
  return ['main', 'child', 'daemon-early', 'daemon-late'].every((r) => roles[r]) ? (roles as unknown as Roles) : undefined;
}

for (const mode of ['v1', 'v2'] as const) {
  const skip = cgroupSkipReason(mode);
  describe(`cgroup ${mode}: nothing escapes`, { skip }, () => {
    // One scenario, three endings (stop, kill-all, leftover scan + kill) share the setup.
    async function withEscaper(body: (ctx: { cg: NonNullable<ReturnType<typeof agentCgroup>>; roles: Roles; tracker: PidTracker; host: ReturnType<typeof makeTestCgroups>['host'] }) => Promise<void>) {
      const cgroups = makeTestCgroups(mode);
      const dir = await mkdtemp(join(tmpdir(), 'fleetd-cg-'));
      const tracker = new PidTracker();
      try {
        const cg = agentCgroup(cgroups.host, 'acme', 'korax');
        assert.ok(cg);
        cg.create();
        const pidsFile = join(dir, 'pids');
        const env = { PATH: fixturePath(), HOME: dir };
        const argv = buildLaunchChain({ argv: [process.execPath, ESCAPER, pidsFile, '400'], env, cgroupProcs: cg.procsFiles });
        const child = spawnArgv(argv, env, dir);
        tracker.add(child.pid);
        const roles = await waitFor(() => readRoles(pidsFile), { timeoutMs: 10_000, what: 'all four processes of the escaper' });
        tracker.add(...Object.values(roles));
        assert.equal(roles.main, child.pid, 'the launch chain execs in place: the spawned pid is the gateway');
        await body({ cg, roles, tracker, host: cgroups.host });
        assert.deepEqual(tracker.alive(), [], 'no process of the scenario survives');
      } finally {
        tracker.killAll();
        await cgroups.cleanup();
        await rm(dir, { recursive: true, force: true });
      }
    }

    test('every process is in the agent cgroup, daemons included; stop leaves nothing and touches no outsider', () =>
      withEscaper(async ({ cg, roles, tracker, host }) => {
        const members = cg.pids();
        for (const [role, pid] of Object.entries(roles)) {
          assert.ok(members.includes(pid), `${role} (${pid}) is a member of ${cg.dirs.join(', ')}: ${members.join(' ')}`);
          const lines = procCgroupLines(pid) ?? [];
          const expected = mode === 'v2' ? 1 : cg.dirs.length;
          assert.equal(lines.filter((l) => l.endsWith(`/agents/${cg.name}`)).length, expected, `${role}: /proc/${pid}/cgroup names the agent cgroup in each hierarchy:\n${lines.join('\n')}`);
        }
        // the daemons really escaped the tree: another session, re-parented, empty environment
        const daemon = readStat(roles['daemon-late']);
        assert.ok(daemon);
        assert.notEqual(daemon.sid, readStat(roles.main)?.sid, 'the late daemon is in a session of its own');
        assert.notEqual(daemon.ppid, roles.main, 'the late daemon is not a child of the gateway');
        assert.deepEqual(procEnviron(roles['daemon-late']), [], 'the late daemon has an empty environment');
        // an outsider: same user, same binary, not in the cgroup
        const outsider = spawnArgv(['/bin/sleep', '1000'], { PATH: fixturePath() });
        tracker.add(outsider.pid);
        try {
          const report = await stopCgroup(cg, { timeoutMs: 500 });
          assert.ok(report.terminated.includes(roles.main), 'SIGTERM reached the gateway');
          assert.ok(report.killed.includes(roles['daemon-early']) && report.killed.includes(roles['daemon-late']), 'the SIGTERM-deaf daemons needed the kill-all');
          assert.deepEqual(report.survivors, []);
          assert.equal(cg.isEmpty(), true);
          for (const pid of Object.values(roles)) assert.equal(isAlive(pid), false, `${pid} is gone`);
          assert.equal(isAlive(outsider.pid as number), true, 'a process outside the cgroup is untouched');
        } finally {
          process.kill(outsider.pid as number, 'SIGKILL');
          await waitFor(() => !isAlive(outsider.pid as number), { timeoutMs: 3000 });
        }
        cg.remove();
        assert.deepEqual(listAgentCgroups(host), [], 'the removed cgroup is gone from the leftover scan');
      }));

    test('a new fleetd finds the leftovers by membership alone and kill-all ends them at once', () =>
      withEscaper(async ({ host, roles }) => {
        // nothing but the host: no pid, no start time, no environment marker
        const found = listAgentCgroups(host);
        assert.equal(found.length, 1);
        const [left] = found;
        assert.ok(left);
        assert.deepEqual([left.fleet, left.agent], ['acme', 'korax']);
        for (const pid of Object.values(roles)) assert.ok(left.pids.includes(pid), `leftover scan lists ${pid}`);
        const seen = await left.cgroup.killAll();
        for (const pid of Object.values(roles)) assert.ok(seen.includes(pid));
        await waitFor(() => left.cgroup.isEmpty(), { timeoutMs: 5000, what: 'cgroup empty after kill-all' });
        for (const pid of Object.values(roles)) await waitFor(() => !isAlive(pid), { timeoutMs: 3000, what: `${pid} dead` });
        left.cgroup.remove();
      }));
  });
}
