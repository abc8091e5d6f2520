// The launch chain: argv shapes (pure), and real runs proving each step execs in place
// and leaves the gateway's environment exactly as fleetd built it.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { collectOutput, spawnArgv } from '../../test/support/cgroup-testkit.js';
import { buildLaunchChain, cgroupJoinPrefix, JOIN_NAME, joinFailure, ksmPrefix, SHELL, userPrefix, WRAPPER_FAILED_EXIT } from './launch-chain.js';

const PROCS = ['/sys/fs/cgroup/memory/x/agents/a@b/cgroup.procs', '/sys/fs/cgroup/pids/x/agents/a@b/cgroup.procs'];

async function run(argv: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  const child = spawnArgv(argv, env);
  const output = collectOutput(child);
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, out: output.text() };
}

describe('launch chain argv (pure)', () => {
  test('order: join cgroups, then setpriv, then KSM, then the gateway', () => {
    const argv = buildLaunchChain({
      argv: ['/rt/node', '/rt/openclaw.mjs', 'gateway', 'run'],
      env: { PATH: '/bin' },
      cgroupProcs: PROCS,
      runAs: { uid: 990, gid: 985, setpriv: '/usr/bin/setpriv' },
      ksm: { kind: 'perl', path: '/usr/bin/perl', syscall: 157 },
    });
    const sh = argv.indexOf(SHELL);
    const setpriv = argv.indexOf('/usr/bin/setpriv');
    const perl = argv.indexOf('/usr/bin/perl');
    const node = argv.indexOf('/rt/node');
    assert.ok(sh === 0 && sh < setpriv && setpriv < perl && perl < node, argv.join(' '));
    assert.deepEqual(argv.slice(3, 3 + 1 + PROCS.length + 1), [JOIN_NAME, ...PROCS, '--'], 'cgroup.procs paths are arguments, not env');
    assert.deepEqual(argv.slice(setpriv, perl), ['/usr/bin/setpriv', '--reuid', '990', '--regid', '985', '--init-groups', '--inh-caps=-all', '--ambient-caps=-all', '--']);
    assert.deepEqual(argv.slice(node), ['/rt/node', '/rt/openclaw.mjs', 'gateway', 'run']);
  });
  test('every step is optional', () => assert.deepEqual(buildLaunchChain({ argv: ['gw'], env: {} }), ['gw']));
  test('refusals: root, a path that is not cgroup.procs, an empty argv', () => {
    assert.throws(() => userPrefix({ uid: 0, gid: 0, setpriv: '/usr/bin/setpriv' }), /refusing to run as uid 0/);
    assert.throws(() => cgroupJoinPrefix(['/etc/passwd'], {}), /not a cgroup.procs path/);
    assert.throws(() => buildLaunchChain({ argv: [], env: {} }), /empty gateway argv/);
  });
  test('the join script keeps a PWD the gateway env sets, and unsets the one dash would add', () => {
    assert.match(cgroupJoinPrefix(PROCS, {})[2]!, /unset PWD/);
    assert.doesNotMatch(cgroupJoinPrefix(PROCS, { PWD: '/x' })[2]!, /unset PWD/);
  });
  test('python3 variant of the KSM step takes the argv after -c', () => {
    const p = ksmPrefix({ kind: 'python3', path: '/usr/bin/python3' });
    assert.deepEqual([p[0], p[1], p.length], ['/usr/bin/python3', '-c', 3]);
  });
});

// A "gateway" that prints its pid, then its environment (node adds no variable of its own).
const PRINT_PID_AND_ENV = 'console.log(`pid ${process.pid}`); for (const [k, v] of Object.entries(process.env)) console.log(`${k}=${v}`)';

describe('launch chain, real runs', () => {
  const env = { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', OPENCLAW_PROFILE: 'acme-korax' };

  test('the join step writes its own pid to each file, then execs the gateway with exactly its env', async () => {
    // plain files named cgroup.procs stand in for cgroups here (cgroup-contain.test.ts uses real ones)
    const dir = await mkdtemp(join(tmpdir(), 'fleetd-join-'));
    try {
      const files = [join(dir, 'a', 'cgroup.procs'), join(dir, 'b', 'cgroup.procs')];
      for (const f of files) await mkdir(join(f, '..'));
      const child = spawnArgv([...cgroupJoinPrefix(files, env), process.execPath, '-e', PRINT_PID_AND_ENV], env);
      const output = collectOutput(child);
      const [code] = (await once(child, 'close')) as [number | null];
      assert.equal(code, 0, output.text());
      const lines = output.text().trim().split('\n');
      assert.equal(lines[0], `pid ${child.pid}`, 'exec in place: the gateway has the spawned pid');
      for (const f of files) assert.equal(await readFile(f, 'utf8'), `${child.pid}\n`, `${f} got the pid before the exec`);
      assert.deepEqual(lines.slice(1).sort(), Object.entries(env).map(([k, v]) => `${k}=${v}`).sort(), 'no PWD, nothing added');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a cgroup.procs that cannot be written stops the launch with 126 and names the file', async () => {
    const { code, out } = await run([...cgroupJoinPrefix(['/nonexistent/agents/a@b/cgroup.procs'], env), '/usr/bin/env'], env);
    assert.equal(code, WRAPPER_FAILED_EXIT);
    assert.match(out, /^fleetd-join-cgroup: cannot write \/nonexistent\/agents\/a@b\/cgroup\.procs$/m, 'the step names the file itself');
    assert.doesNotMatch(out, /LANG=/, 'the gateway never ran');
    assert.match(joinFailure(code, out)!, /^it could not join its cgroup \(cannot write \/nonexistent\/agents\/a@b\/cgroup\.procs: cannot create \/nonexistent\/agents\/a@b\/cgroup\.procs: /);
  });

  test('joinFailure: the reason of an exit 126 from the join, in either spawner\'s words; nothing for other exits', () => {
    const file = '/sys/fs/cgroup/cpu/f/agents/a@b/cgroup.procs';
    assert.equal(joinFailure(126, `fleetd-join-cgroup: cannot write ${file}: Invalid argument\n`), `it could not join its cgroup (cannot write ${file}: Invalid argument)`);
    assert.equal(joinFailure(126, `fleetd-join-cgroup: 1: echo: echo: I/O error\nfleetd-join-cgroup: cannot write ${file}\n`), `it could not join its cgroup (cannot write ${file}: echo: echo: I/O error)`);
    assert.equal(joinFailure(126, 'bash: /opt/gw: Permission denied\n'), undefined, 'a 126 of the gateway itself');
    assert.equal(joinFailure(1, `fleetd-join-cgroup: cannot write ${file}: Invalid argument\n`), undefined);
  });

  test('the KSM step (perl) leaves the env alone and the exec in place', async () => {
    const { code, out } = await run([...ksmPrefix({ kind: 'perl', path: '/usr/bin/perl', syscall: 157 }), '/usr/bin/env'], env);
    assert.equal(code, 0, out);
    assert.deepEqual(out.trim().split('\n').filter((l) => !l.startsWith('fleetd-ksm:')).sort(), Object.entries(env).map(([k, v]) => `${k}=${v}`).sort());
  });
});
