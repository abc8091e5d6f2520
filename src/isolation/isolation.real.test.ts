// One REAL OpenClaw gateway through the whole isolation layer, on this host's cgroup v1:
// its own cgroup with limits (memory 1.5G, heap sized under it), its own tenant user
// (home 0700, openclaw.json written by fleetd into the tenant's home), KSM opt-in.
// Proves: the launch chain boots a real gateway (/healthz 200), every process of its tree
// is in its cgroup and runs as the tenant, OpenClaw's launcher keeps the heap flag (no
// re-spawn without it), merging is on, the environment is exactly fleetd's, and a stop
// through the cgroup leaves nothing. The cached runtime lives under /root (0700), which a
// tenant cannot enter: the test shows accessProblem saying so, then runs from a hard-linked
// copy of the runtime in a folder tenants can read (no bytes copied).
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { gatewayTree, httpRequest, randomPortBase, readEnviron, waitRefsDead } from '../../test/e2e/real-harness.js';
import { cgroupSkipReason, makeTestCgroups } from '../../test/support/cgroup-testkit.js';
import { renderGatewayConfig } from '../plan/gateway-config.js';
import { effectiveAgent } from '../provision/effective.js';
import { defaultRuntimeCacheDir } from '../runtime/cache-dir.js';
import { gatewayArgv, runtimePathDir } from '../runtime/gateway-argv.js';
import { ensureRuntime } from '../runtime/install.js';
import type { Runtime } from '../runtime/types.js';
import { readStat } from '../supervise/proc.js';
import { waitFor } from '../util/wait-for.js';
import { isolateLaunch, prepareAgentIsolation, setupIsolationHost } from './agent-isolation.js';
import { stopCgroup } from './cgroup-stop.js';
import { agentIsolationView } from './isolation-status.js';
import { detectKsm, readKsmStat } from './ksm.js';
import { resolveLimits } from './limits.js';
import { withCgroupJoin } from './launch-chain.js';
import { accessProblem, prepareTenantHome, writeTenantFile } from './tenant-home.js';
import { lookupUser } from './user-lookup.js';

const VERSION = '2026.9.6';

test('a real gateway under a memory limit, as its own user, with KSM, in its own cgroup', { skip: cgroupSkipReason('v1'), timeout: 10 * 60_000 }, async () => {
  const cached = await ensureRuntime({ runtimesDir: defaultRuntimeCacheDir(), version: VERSION });
  const user = `fdt-${randomBytes(3).toString('hex')}`;
  execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', user]);
  const dir = await mkdtemp(join(tmpdir(), 'fleetd-real-iso-'));
  const cgroups = makeTestCgroups('v1');
  let rootPid: number | undefined;
  let tenantUid: number | undefined;
  try {
    const tenant = lookupUser({ name: user, setAt: 'fleets.acme.user' });
    tenantUid = tenant.uid;
    const blocked = accessProblem(cached.node, tenant, 'rx');
    if (cached.node.startsWith('/root/')) assert.match(blocked ?? '', /cannot enter \/root \(mode 700/, 'the tenant cannot reach a runtime under /root');

    // a runtime folder tenants can read: hard links, no copy
    await chmod(dir, 0o755);
    const rtDir = join(dir, 'runtimes', `openclaw-${VERSION}`);
    execFileSync('mkdir', ['-p', join(dir, 'runtimes')]);
    execFileSync('cp', ['-al', cached.dir, rtDir]);
    const runtime: Runtime = { ...cached, dir: rtDir, node: join(rtDir, relative(cached.dir, cached.node)), entry: join(rtDir, relative(cached.dir, cached.entry)) };
    assert.equal(accessProblem(runtime.node, tenant, 'rx'), undefined);
    assert.equal(accessProblem(runtime.entry, tenant, 'r'), undefined);

    // provisioning as fleetd would do it for a tenant
    const stateDir = join(dir, 'state');
    execFileSync('mkdir', ['-m', '0700', stateDir]);
    const port = randomPortBase(1);
    const token = randomBytes(32).toString('hex');
    const desired = { address: 'acme/korax' as const, fleet: 'acme', agent: 'korax', source: 'manifest' as const, enabled: true, config: { browser: { enabled: false } }, env: {}, launch: { kind: 'openclaw' as const, version: VERSION } };
    const eff = effectiveAgent({ stateDir, desired, port, token, blockSize: 100, parentEnv: process.env });
    prepareTenantHome(stateDir, 'acme', 'korax', tenant);
    writeTenantFile(stateDir, eff.paths.configPath, renderGatewayConfig(eff.config), tenant);

    const host = setupIsolationHost({ mode: 'v1', root: relativeRoot(cgroups) }, true);
    assert.equal(host.view.mode, 'cgroup-v1', host.view.description);
    const ksm = detectKsm();
    const spec = { limits: resolveLimits([{ memory: '1.5G', pids: 1024 }]), merge: true, user: { name: user, setAt: 'fleets.acme.user' } };
    const iso = prepareAgentIsolation(host, spec, 'acme', 'korax');
    const env = { ...eff.env, PATH: `${runtimePathDir(runtime)}:${eff.env.PATH ?? ''}` };
    const launch = isolateLaunch({ argv: gatewayArgv(runtime, port), env }, iso);
    assert.equal(launch.heapMiB, 768);

    const logFile = join(dir, 'gateway.log');
    const log = openSync(logFile, 'a', 0o600);
    const [file, ...args] = withCgroupJoin(launch.argv, launch.cgroupProcs, launch.env);
    const child = spawn(file!, args, { cwd: eff.paths.home, env: launch.env, detached: true, stdio: ['ignore', log, log] });
    closeSync(log);
    rootPid = child.pid;
    const logTail = () => readFileSync(logFile, 'utf8').slice(-2000);
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`gateway exited ${child.exitCode}: ${logTail()}`);
        return (await httpRequest(`http://127.0.0.1:${port}/healthz`, { timeoutMs: 1000 }).catch(() => undefined))?.status === 200;
      },
      { timeoutMs: 180_000, intervalMs: 250, what: `real gateway /healthz (log: ${logFile})` },
    );

    const cg = iso.cgroup!;
    const tree = gatewayTree(child.pid!);
    assert.ok(tree.length >= 2, `the gateway tree: ${tree.map((r) => r.pid).join(' ')}`);
    const members = cg.pids();
    for (const ref of tree) {
      assert.ok(members.includes(ref.pid), `${ref.pid} (${readStat(ref.pid)?.comm}) is in the agent cgroup`);
      assert.equal(execFileSync('ps', ['-o', 'uid=', '-p', String(ref.pid)], { encoding: 'utf8' }).trim(), String(tenant.uid), `${ref.pid} runs as ${user}`);
    }
    assert.match(readStat(child.pid!)?.comm ?? '', /^openclaw-gatewa/, 'the spawned pid is the gateway itself (every wrapper exec\'d in place)');
    // The heap flag: OpenClaw sets process.title, which overwrites /proc/<pid>/cmdline, so
    // it cannot be read back there. It was in the argv exec'd, OpenClaw's launcher did not
    // re-spawn (the spawned pid IS the gateway, a child of this test), and this very node
    // binary sizes its heap from it:
    assert.ok(launch.argv.slice(launch.argv.indexOf(runtime.node)).includes('--max-old-space-size=768'));
    assert.equal(readStat(child.pid!)?.ppid, process.pid, 'no re-spawn: the gateway is the process this test spawned');
    const limit = Number(execFileSync(runtime.node, ['--max-old-space-size=768', '-e', 'console.log(require("v8").getHeapStatistics().heap_size_limit)'], { encoding: 'utf8' }));
    assert.ok(limit >= 768 * 2 ** 20 && limit < 900 * 2 ** 20, `heap_size_limit ${limit}`);
    assert.deepEqual(readEnviron(child.pid!), launch.env, 'exactly the env fleetd built: no wrapper left anything');
    if (ksm.usable) assert.equal(readKsmStat(child.pid!)?.mergeAny, true, 'same-page merging is on for the gateway');
    const view = agentIsolationView({ spec, cgroup: cg, ksm, running: true });
    assert.equal(view.memory.source, 'cgroup');
    assert.equal(view.memory.limitBytes, 1.5 * 1024 ** 3);
    assert.ok((view.memory.currentBytes ?? 0) > 50 * 1024 * 1024, view.memory.text);
    process.stderr.write(`# real gateway: memory ${view.memory.text}, pids ${view.pids.current}/${view.pids.limit}, cpu ${view.cpuSeconds} s, merge: ${view.merge}\n`);
    // the tenant's own files: OpenClaw wrote its state as the tenant
    assert.equal(spawnSync('find', [eff.paths.home, '!', '-user', user], { encoding: 'utf8' }).stdout.trim(), '', 'everything in the home belongs to the tenant');

    const report = await stopCgroup(cg, { timeoutMs: 30_000 });
    assert.deepEqual(report.survivors, []);
    assert.deepEqual(report.killed, [], `SIGTERM was enough (log: ${logTail()})`);
    await waitRefsDead(tree, 10_000);
    rootPid = undefined;
  } finally {
    if (rootPid !== undefined) spawnSync('kill', ['-9', String(rootPid)]);
    await cgroups.cleanup();
    spawnSync('userdel', [user]);
    await rm(dir, { recursive: true, force: true });
    // OpenClaw's per-uid lock folder (OPENCLAW_NOTES): the uid is gone with the user
    if (tenantUid !== undefined) await rm(`/tmp/openclaw-state-locks-${tenantUid}`, { recursive: true, force: true });
  }
});

// The test root as a cgroup path relative to the test's own cgroup (what makeTestCgroups made).
function relativeRoot(cgroups: ReturnType<typeof makeTestCgroups>): string {
  const host = cgroups.host;
  if (host.kind !== 'v1') throw new Error('expected v1');
  return host.hierarchies[0]!.rootPath.split('/').pop()!;
}
