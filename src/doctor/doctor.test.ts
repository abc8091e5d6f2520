// The doctor's checks one by one, each fed a planted problem: a real temp tree with wrong
// modes, a real lock folder, /proc-format text, the real JSON `openclaw doctor --lint --json`
// printed for an agent, process tables.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES } from '../../test/support/paths.js';
import type { AgentView } from '../protocol/schemas.js';
import { checkState } from './agent-checks.js';
import { needsAttention, shellQuote } from './check.js';
import { agentPathRules, checkPaths, fleetdPathRules } from './file-modes.js';
import { checkIsolation, type IsolationEnv } from './isolation.js';
import { parseManifest } from '../manifest/load.js';
import type { IsolationHost } from '../isolation/agent-isolation.js';
import { USER_CAPABILITIES } from '../isolation/privileges.js';
import { FleetError } from '../errors.js';
import { canonicalPath, checkLockFiles, lockHashOf } from './lock-files.js';
import { expectedUnderFleetd, findingsToChecks } from './openclaw-doctor.js';
import { addressOfConfigPath, checkOrphans, type MarkedProcess } from './orphans.js';
import { clientVersionCheck, renderDoctor } from '../cli/doctor-view.js';

const uid = process.getuid!();

describe('files and modes', () => {
  test('each planted problem is one check with the command that fixes it; fine paths are counted', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fleetd-doctor-'));
    try {
      await mkdir(join(dir, 'ok'), { mode: 0o700 });
      await mkdir(join(dir, 'open'), { mode: 0o700 });
      await chmod(join(dir, 'open'), 0o755);
      await writeFile(join(dir, 'secret.json'), '{}', { mode: 0o644 });
      await writeFile(join(dir, 'tight'), '{}', { mode: 0o400 });
      await symlink('/etc', join(dir, 'link'));
      await writeFile(join(dir, 'notdir'), 'x', { mode: 0o600 });
      const checks = await checkPaths('acme/korax', [
        { path: join(dir, 'ok'), kind: 'dir', mode: 0o700, uid },
        { path: join(dir, 'open'), kind: 'dir', mode: 0o700, uid },
        { path: join(dir, 'secret.json'), kind: 'file', mode: 0o600, uid },
        { path: join(dir, 'tight'), kind: 'file', mode: 0o600, uid },
        { path: join(dir, 'link'), kind: 'dir', mode: 0o700, uid },
        { path: join(dir, 'notdir'), kind: 'dir', mode: 0o700, uid },
        { path: join(dir, 'missing'), kind: 'file', mode: 0o600, uid },
        { path: join(dir, 'ok'), kind: 'dir', mode: 0o700, uid: uid + 1 },
      ]);
      const by = (p: string) => checks.filter((c) => c.title === join(dir, p));
      assert.equal(by('ok').length, 1, 'only the wrong-owner rule of "ok" is a problem');
      assert.match(by('ok')[0]!.detail, new RegExp(`owned by uid ${uid}, expected uid ${uid + 1}`));
      assert.deepEqual(by('open').map((c) => [c.level, c.next]), [['fail', `chmod 0700 ${join(dir, 'open')}`]]);
      assert.deepEqual(by('secret.json').map((c) => [c.level, c.next]), [['fail', `chmod 0600 ${join(dir, 'secret.json')}`]]);
      assert.deepEqual(by('tight').map((c) => c.level), ['warn'], 'stricter than expected: attention, not a leak');
      assert.match(by('link')[0]!.detail, /symbolic link/);
      assert.match(by('notdir')[0]!.detail, /not a folder/);
      assert.equal(by('missing').length, 0, 'not made yet is no problem');
      assert.ok(needsAttention(checks));
      const fine = await checkPaths('acme/korax', [{ path: join(dir, 'ok'), kind: 'dir', mode: 0o700, uid }]);
      assert.deepEqual(fine.map((c) => [c.level, c.detail]), [['ok', '1 paths at their modes and owner']]);
      assert.equal(needsAttention(fine), false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('an agent with its own user: its home and openclaw.json are that user\'s, fleetd\'s folder and the shim files fleetd\'s; 0711 above homes only with tenants', async () => {
    const rules = await agentPathRules('/s', 'acme', 'korax', { fleetd: 0, tenant: 1234, tenants: true });
    const rule = (path: string) => rules.find((r) => r.path === path);
    assert.equal(rule('/s/fleets/acme/korax')!.uid, 1234);
    assert.equal(rule('/s/fleets/acme/korax/.openclaw/openclaw.json')!.uid, 1234);
    assert.equal(rule('/s/fleets/acme/korax/tmp')!.uid, 1234);
    assert.equal(rule('/s/fleets/acme')!.alsoMode, 0o711);
    for (const name of ['shim.json', 'exit.json', 'shim.err', 'gateway.log', 'config.applied.json']) assert.deepEqual([rule(`/s/agents/acme/korax/${name}`)?.uid, rule(`/s/agents/acme/korax/${name}`)?.mode], [0, 0o600], name);
    assert.deepEqual([rule('/s/agents/acme/korax/shim.sock')?.kind, rule('/s/agents/acme/korax/shim.sock')?.mode], ['socket', 0o600]);
    const plain = await agentPathRules('/s', 'acme', 'korax', { fleetd: 7, tenants: false });
    assert.ok(plain.every((r) => r.uid === 7 && r.alsoMode === undefined));
    assert.equal(fleetdPathRules({ stateDir: '/s', socket: '/s/fleetd.sock', uid: 0, tenants: true })[0]!.alsoMode, 0o711);
  });

  test('0711 is accepted where tenants need it, and nowhere else', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fleetd-doctor-'));
    try {
      await chmod(dir, 0o711);
      assert.deepEqual((await checkPaths('fleetd', [{ path: dir, kind: 'dir', mode: 0o700, alsoMode: 0o711, uid }])).map((c) => c.level), ['ok']);
      const strict = await checkPaths('fleetd', [{ path: dir, kind: 'dir', mode: 0o700, uid }]);
      assert.deepEqual(strict.map((c) => [c.level, c.next]), [['fail', `chmod 0700 ${dir}`]]);
      await chmod(dir, 0o755);
      const loose = await checkPaths('fleetd', [{ path: dir, kind: 'dir', mode: 0o700, alsoMode: 0o711, uid }]);
      assert.match(loose[0]!.detail, /mode 0755, expected 0700 \(or 0711\)/);
      assert.equal(loose[0]!.level, 'fail');
    } finally {
      await chmod(dir, 0o700);
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('shellQuote quotes only what needs it', () => {
    assert.equal(shellQuote('/var/lib/fleetd/x'), '/var/lib/fleetd/x');
    assert.equal(shellQuote("/tmp/a b/it's"), `'/tmp/a b/it'\\''s'`);
  });
});

describe('OpenClaw lock files', () => {
  test('the hash is OpenClaw\'s: sha256 of the canonical state db path, 8 hex digits (checked against a real gateway)', () => {
    // a real 2026.9.6 gateway with OPENCLAW_STATE_DIR=/tmp/hr-probe/home/.openclaw made gateway-lifecycle.70b7c17e.lock.sqlite
    assert.equal(canonicalPath('/nonexistent-fleetd/a/b'), '/nonexistent-fleetd/a/b');
    assert.equal(lockHashOf('/tmp/hr-probe/home').length, 8);
  });

  test('a removed agent\'s unheld files need attention (rm); current agents\' and foreign ones do not', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fleetd-locks-'));
    try {
      const gone = lockHashOf('/srv/state/fleets/acme/gone');
      const held = lockHashOf('/srv/state/fleets/acme/held');
      const here = lockHashOf('/srv/state/fleets/acme/here');
      const files = [`gateway-lifecycle.${gone}.lock.sqlite`, `state-lifecycle.${gone}.lock.sqlite`, `gateway-lifecycle.${held}.lock.sqlite`, `gateway-lifecycle.${here}.lock.sqlite`, 'gateway-lifecycle.00000000.lock.sqlite', 'unrelated.txt'];
      for (const f of files) await writeFile(join(dir, f), '');
      const checks = checkLockFiles({
        dir,
        current: new Map([['acme/here', here]]),
        removed: new Map([
          ['acme/gone', gone],
          ['acme/held', held],
        ]),
        open: new Set([join(dir, `gateway-lifecycle.${held}.lock.sqlite`)]),
      });
      const stale = checks.filter((c) => c.level === 'warn');
      assert.deepEqual(stale.map((c) => c.scope), ['acme/gone']);
      assert.equal(stale[0]!.next, `rm ${join(dir, `gateway-lifecycle.${gone}.lock.sqlite`)} ${join(dir, `state-lifecycle.${gone}.lock.sqlite`)}`);
      const summary = checks.find((c) => c.scope === 'fleetd')!;
      assert.equal(summary.level, 'info');
      assert.match(summary.detail, /2 of current agents, 1 of no agent of this fleetd/);
      assert.deepEqual(checkLockFiles({ dir: join(dir, 'none'), current: new Map(), removed: new Map(), open: new Set() }).map((c) => c.level), ['ok']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('leftover processes', () => {
  const proc = (pid: number, ppid: number, address: string, comm = 'node'): MarkedProcess => ({ pid, ppid, comm, address });
  const base = { fleetdPid: 100, isAlive: (pid: number) => pid !== 999, commOf: (pid: number) => (pid === 50 ? 'systemd' : pid === 60 ? 'bash' : 'node'), stopping: new Set<string>() };

  test('orphans (init, a subreaper, a dead parent, fleetd itself) fail; sessions started by a live process are information', () => {
    const marked = [
      proc(10, 100, 'acme/a'), // the current gateway
      proc(11, 10, 'acme/a'), // its child
      proc(20, 1, 'acme/a'), // re-parented to init
      proc(21, 20, 'acme/a'), // its child: same orphan tree
      proc(30, 50, 'acme/b'), // adopted by systemd --user
      proc(40, 999, 'acme/b'), // parent dead
      proc(41, 100, 'acme/c'), // a child of fleetd that is not the current gateway
      proc(70, 60, 'acme/a'), // fleetctl exec from a shell
    ];
    const trees = new Map([['acme/a', new Set([10, 11])]]);
    const checks = checkOrphans({ ...base, marked, trees });
    const orphans = checks.filter((c) => c.level === 'fail');
    assert.deepEqual(orphans.map((c) => c.scope), ['acme/a', 'acme/b', 'acme/c']);
    assert.match(orphans[0]!.detail, /20 \(node\), 21 \(node\)/);
    assert.equal(orphans[0]!.next, 'kill -TERM 20 21 (then kill -KILL 20 21 if they stay)');
    assert.deepEqual(checks.filter((c) => c.level === 'info').map((c) => [c.scope, c.title]), [['acme/a', 'sessions']]);
  });

  test('an agent being stopped: its leftovers are information; one agent only: the others are not looked at', () => {
    const marked = [proc(20, 1, 'acme/a'), proc(30, 1, 'acme/b')];
    const checks = checkOrphans({ ...base, marked, trees: new Map(), stopping: new Set(['acme/a']), only: 'acme/a' });
    assert.deepEqual(checks.map((c) => [c.scope, c.level]), [['acme/a', 'info']]);
    assert.deepEqual(checkOrphans({ ...base, marked: [], trees: new Map() }).map((c) => c.level), ['ok']);
  });

  test('addressOfConfigPath names only agent homes of this state dir', () => {
    assert.equal(addressOfConfigPath('/s', '/s/fleets/acme/korax/.openclaw/openclaw.json'), 'acme/korax');
    assert.equal(addressOfConfigPath('/s', '/other/fleets/acme/korax/.openclaw/openclaw.json'), undefined);
    assert.equal(addressOfConfigPath('/s', '/s/fleets/acme/korax/openclaw.json'), undefined);
  });
});

describe('openclaw doctor findings', () => {
  test('the real report of an agent: fleetd-by-design findings become information, hints name fleetctl openclaw', async () => {
    const stdout = await readFile(join(FIXTURES, 'openclaw-doctor-lint.json'), 'utf8');
    const checks = findingsToChecks('acme/korax', { code: 1, signal: null, stdout, stderr: '', timedOut: false }, []);
    assert.deepEqual(checks.map((c) => c.level), ['ok', 'info', 'info']);
    assert.match(checks[0]!.detail, /35 checks run, 2 finding\(s\), 2 of them expected under fleetd/);
    assert.match(checks[1]!.detail, /expected: fleetd binds every gateway to loopback/);
    assert.match(checks[2]!.detail, /expected: fleetd writes gateway\.auth\.token/);
  });

  test('other findings keep their severity and their hint, redacted and pointed at fleetctl openclaw', () => {
    const secret = 'sk-abcdefghijklmnop';
    const report = {
      ok: false,
      checksRun: 3,
      findings: [
        { checkId: 'core/doctor/gateway-config', severity: 'error', message: `bad key ${secret}`, path: 'x.y', fixHint: 'Run `openclaw --profile acme-korax config set x 1`.' },
        { checkId: 'core/doctor/security', severity: 'warning', message: 'plaintext', requirement: 'config.plaintext_secrets', fixHint: 'Paths: gateway.auth.token, channels.telegram.botToken' },
        { checkId: 'core/doctor/x', severity: 'info', message: 'fyi' },
      ],
    };
    const checks = findingsToChecks('acme/korax', { code: 1, signal: null, stdout: `noise\n${JSON.stringify(report)}`, stderr: '', timedOut: false }, [secret]);
    assert.deepEqual(checks.map((c) => c.level), ['ok', 'fail', 'warn', 'info']);
    assert.equal(checks[1]!.detail, 'bad key <redacted> (x.y)');
    assert.equal(checks[1]!.next, 'Run `fleetctl openclaw acme/korax config set x 1`.');
    assert.equal(expectedUnderFleetd(report.findings[1]!), undefined, 'a channel token in plaintext is the operator\'s to fix');
  });

  test('no report, or a timeout: attention, with the command to run it by hand', () => {
    const none = findingsToChecks('acme/korax', { code: 2, signal: null, stdout: 'Error: boom', stderr: 'trace', timedOut: false }, []);
    assert.deepEqual(none.map((c) => c.level), ['warn']);
    assert.equal(none[0]!.next, 'fleetctl openclaw acme/korax doctor');
    assert.match(findingsToChecks('acme/korax', { code: null, signal: 'SIGKILL', stdout: '', stderr: '', timedOut: true }, [])[0]!.detail, /did not finish/);
  });
});

describe('isolation as fleetd uses it', () => {
  const manifest = parseManifest(
    `{ version: 1, fleets: {
        acme: { user: "acme-gw", agents: { korax: { limits: { memory: "512M" } }, vesna: { memory: { merge: true } } } },
        ops: { agents: { watch: {} } },
      } }`,
    '/srv/m.json5',
  );
  const agents = [
    { address: 'acme/korax', fleet: 'acme', agent: 'korax' },
    { address: 'acme/vesna', fleet: 'acme', agent: 'vesna' },
    { address: 'ops/watch', fleet: 'ops', agent: 'watch' },
  ];
  const allCaps = Object.values(USER_CAPABILITIES).reduce((mask, c) => mask | (1n << BigInt(c.bit)), 0n);
  const v2 = (controllers: string[]): IsolationHost => {
    const cgroups = { kind: 'v2' as const, source: 'delegated' as const, mountPoint: '/sys/fs/cgroup', ownPath: '/f', rootPath: '/f', rootDir: '/sys/fs/cgroup/f', controllers };
    return { cgroups, moved: [], ksm: { usable: true, running: true, words: 'on' }, view: { mode: 'cgroup-v2', description: 'x', ksm: 'KSM on' } };
  };
  const env = (over: Partial<IsolationEnv>): IsolationEnv => ({
    host: v2(['memory', 'cpu', 'pids']),
    manifest,
    agents,
    uid: 0,
    capEff: allCaps,
    lookupUser: (choice) => ({ name: choice.name, uid: 1500, gid: 1500, home: '/', shell: '/bin/false', groups: [1500] }),
    findSetpriv: () => '/usr/bin/setpriv',
    ...over,
  });
  const byId = (checks: ReturnType<typeof checkIsolation>, id: string) => checks.filter((c) => c.id === id).map((c) => [c.level, c.detail]);

  test('everything in place: the mode fleetd uses, KSM for the agent that asks, the user with its ids', () => {
    const checks = checkIsolation(env({}));
    assert.deepEqual(byId(checks, 'isolation-cgroups'), [['ok', 'cgroup v2 (memory, cpu, pids) under /sys/fs/cgroup/f/agents (delegated subtree); 1 agent(s) with limits']]);
    assert.deepEqual(byId(checks, 'isolation-ksm'), [['ok', 'KSM on, for acme/vesna']]);
    assert.deepEqual(byId(checks, 'isolation-users'), [['ok', 'uid 1500, gid 1500: acme/korax, acme/vesna']]);
    assert.equal(needsAttention(checks), false);
  });

  test('the tree-walk fallback: information without limits, failure naming the agents that have some', () => {
    const none: IsolationHost = { cgroups: { kind: 'none', reason: 'cgroup.mode is "off"' }, moved: [], view: { mode: 'none', description: 'x', ksm: null } };
    const [cg] = checkIsolation(env({ host: none }));
    assert.equal(cg!.level, 'fail');
    assert.match(cg!.detail, /^no cgroup: tree walk fallback because cgroup\.mode is "off", but 1 agent\(s\) have limits, which cannot start without a cgroup: acme\/korax \(memory 512M\)/);
    assert.match(cg!.next!, /Delegate=yes/);
    const lean = parseManifest('{ version: 1, fleets: { ops: { agents: { watch: {} } } } }', '/srv/m.json5');
    assert.deepEqual(checkIsolation(env({ host: none, manifest: lean, agents: [agents[2]!] })).map((c) => [c.id, c.level]), [['isolation-cgroups', 'info'], ['isolation-users', 'info']]);
  });

  test('a limit whose controller is not delegated fails with the agent and the controller', () => {
    const [cg] = checkIsolation(env({ host: v2(['cpu', 'pids']) }));
    assert.equal(cg!.level, 'fail');
    assert.match(cg!.detail, /limits of acme\/korax \(needs memory\) cannot be applied/);
  });

  test('users: missing privileges, setpriv or the user itself each fail with the fix', () => {
    const unprivileged = byId(checkIsolation(env({ uid: 1000, capEff: 0n })), 'isolation-users');
    assert.equal(unprivileged[0]![0], 'fail');
    assert.match(unprivileged[0]![1] as string, /acme\/korax, acme\/vesna should run as their own users, but fleetd \(uid 1000\) lacks CAP_CHOWN, .*CAP_SETUID/);
    const noSetpriv = checkIsolation(
      env({
        findSetpriv: () => {
          throw new FleetError('UNSUPPORTED_PLATFORM', 'setpriv is not installed');
        },
      }),
    );
    assert.deepEqual(byId(noSetpriv, 'isolation-users'), [['fail', 'setpriv is not installed']]);
    const unknown = checkIsolation(
      env({
        lookupUser: () => {
          throw new FleetError('PROVISION_FAILED', 'user "acme-gw" (fleets.acme.user) does not exist on this host');
        },
      }),
    );
    const users = unknown.filter((c) => c.id === 'isolation-users');
    assert.deepEqual(users.map((c) => [c.level, c.title]), [['fail', 'user acme-gw']]);
    assert.match(users[0]!.detail, /does not exist on this host \(used by acme\/korax, acme\/vesna\)/);
    assert.match(users[0]!.next!, /fleets\.acme\.user/);
  });

  test('KSM asked for but not usable, or not detected at start-up: a warning that says why', () => {
    const host = v2(['memory', 'cpu', 'pids']);
    const off = byId(checkIsolation(env({ host: { ...host, ksm: { usable: false, running: false, words: 'unavailable: this kernel has no KSM' } } })), 'isolation-ksm');
    assert.deepEqual(off, [['warn', 'memory.merge is asked for acme/vesna, but KSM is unavailable: this kernel has no KSM: their gateways run without it']]);
    const { ksm: _ksm, ...without } = host;
    assert.match(byId(checkIsolation(env({ host: without })), 'isolation-ksm')[0]![1] as string, /only at start-up/);
  });
});

describe('parsers and small checks', () => {
  test('agent state against the wish', () => {
    const view = (over: Partial<AgentView>): AgentView =>
      ({ address: 'acme/korax', fleet: 'acme', agent: 'korax', enabled: true, desired: 'running', state: 'running', reason: 'r', pid: 1, restarts: 0, ...over }) as AgentView;
    assert.equal(checkState(view({})).level, 'ok');
    assert.equal(checkState(view({ state: 'reconfiguring' })).level, 'ok');
    assert.equal(checkState(view({ state: 'failed' })).level, 'fail');
    assert.equal(checkState(view({ state: 'backoff' })).level, 'warn');
    assert.equal(checkState(view({ state: 'stopped', desired: 'stopped' })).level, 'info');
    assert.equal(checkState(view({ state: 'stopped', enabled: false })).level, 'info');
    assert.equal(checkState(view({ state: 'stopped' })).level, 'warn', 'wanted running but stopped');
  });

  test('fleetctl\'s version check and the human rendering', () => {
    assert.equal(clientVersionCheck('1.0.0', '1.0.0').level, 'ok');
    assert.equal(clientVersionCheck('1.0.0', '1.1.0').level, 'warn');
    const lines = renderDoctor(
      {
        address: null,
        fleetd: { version: '1', node: '20', pid: 1 },
        attention: true,
        durationMs: 1,
        checks: [
          { id: 'a', scope: 'fleetd', level: 'ok', title: 'x', detail: 'fine', next: null },
          { id: 'b', scope: 'acme/k', level: 'fail', title: 'port 1', detail: 'held', next: 'do this' },
        ],
      },
      false,
    );
    assert.deepEqual(lines, ['fleetd: ok (1 checks)', 'acme/k:', '  fail  port 1: held', '        -> do this', '', '2 checks: 1 ok, 0 info, 0 warn, 1 fail - needs attention']);
  });
});
