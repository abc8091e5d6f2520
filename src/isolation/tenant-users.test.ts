// One OS user per tenant, for real: users made with useradd for the test (removed after,
// also on failure), homes given to them, openclaw.json written into a home its tenant
// controls without following anything it planted, and two tenants that cannot read each
// other's homes (checked by running cat/ls as each of them through setpriv).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { linkSync, lstatSync, mkdirSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isRoot } from '../../test/support/cgroup-testkit.js';
import { FleetError } from '../errors.js';
import { agentPaths } from '../provision/home.js';
import { userPrefix } from './launch-chain.js';
import { assertCanSwitchUsers, missingUserCapabilities, parseCapEff } from './privileges.js';
import { openDirChain, writeFileIn } from './tenant-fs.js';
import { accessProblem, prepareTenantHome, writeTenantFile } from './tenant-home.js';
import { findSetpriv, lookupUser, prepareRunAs, type TenantUser } from './user-lookup.js';

describe('privileges (pure)', () => {
  test('CapEff parsing and what is missing', () => {
    assert.equal(parseCapEff('Name:\tx\nCapEff:\t000001fffeffffff\n'), 0x1fffeffffffn);
    assert.deepEqual(missingUserCapabilities(0x1fffeffffffn), []);
    assert.deepEqual(missingUserCapabilities(0xc0n), ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_KILL']);
  });
  test('an unprivileged fleetd gets one error naming every missing capability and the unit line', () => {
    assert.throws(
      () => assertCanSwitchUsers('user "acme-gw" (fleets.acme.user)', 'CapEff:\t0000000000000000\n', 990),
      (err: unknown) =>
        err instanceof FleetError &&
        err.code === 'PROVISION_FAILED' &&
        err.message.startsWith('cannot run a gateway as user "acme-gw" (fleets.acme.user): fleetd (uid 990) lacks CAP_CHOWN (to give each agent\'s home to its user), ') &&
        err.message.endsWith('AmbientCapabilities=CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER CAP_KILL CAP_SETGID CAP_SETUID'),
    );
  });
});

describe('lookupUser (fake getent/id)', () => {
  const run = (answers: Record<string, { status: number; stdout: string } | undefined>) => (file: string, args: string[]) => answers[`${file} ${args.join(' ')}`];
  test('missing user: says how to create it', () => {
    assert.throws(() => lookupUser({ name: 'acme-gw', setAt: 'fleets.acme.user' }, { run: run({ 'getent passwd acme-gw': { status: 2, stdout: '' } }), readFile: () => '' }), /user "acme-gw" \(fleets\.acme\.user\) does not exist on this host; create it, e\.g\. useradd --system --no-create-home --shell \/usr\/sbin\/nologin acme-gw/);
  });
  test('a user with uid 0 is refused', () => {
    assert.throws(() => lookupUser({ name: 'toor', setAt: 'fleets.x.user' }, { run: run({ 'getent passwd toor': { status: 0, stdout: 'toor:x:0:0::/root:/bin/sh\n' } }), readFile: () => '' }), /has uid 0 gid 0: a gateway must not run with root's ids/);
  });
  test('without getent and id: /etc/passwd and /etc/group', () => {
    const files: Record<string, string> = { '/etc/passwd': 'root:x:0:0::/root:/bin/sh\nacme-gw:x:990:985::/nonexistent:/usr/sbin/nologin\n', '/etc/group': 'acme-gw:x:985:\nshared:x:2000:bob,acme-gw\n' };
    const user = lookupUser({ name: 'acme-gw', setAt: 'fleets.acme.user' }, { run: () => undefined, readFile: (p) => files[p] ?? '' });
    assert.deepEqual(user, { name: 'acme-gw', uid: 990, gid: 985, home: '/nonexistent', shell: '/usr/sbin/nologin', groups: [985, 2000] });
  });
});

describe('tenant users on this host', { skip: isRoot() ? undefined : 'needs root (useradd, chown, setpriv)' }, () => {
  const names = [`fdt-${randomBytes(3).toString('hex')}`, `fdt-${randomBytes(3).toString('hex')}`] as const;
  const users: TenantUser[] = [];
  let stateDir = '';

  before(async () => {
    for (const name of names) execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', name]);
    for (const name of names) users.push(lookupUser({ name, setAt: 'test' }));
    stateDir = await mkdtemp(join(tmpdir(), 'fleetd-users-'));
  });
  after(async () => {
    for (const name of names) spawnSync('userdel', [name]);
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  // Runs argv as `user` through the same setpriv prefix the launch chain uses.
  const runAs = (user: TenantUser, argv: string[]) => {
    const [file, ...args] = [...userPrefix({ uid: user.uid, gid: user.gid, setpriv: findSetpriv() }), ...argv];
    return spawnSync(file!, args, { encoding: 'utf8', cwd: '/', env: { PATH: '/usr/bin:/bin' } });
  };

  test('prepareRunAs: privileges fine as root, ids from the host, setpriv found; the chain runs as the user', () => {
    const [a] = users;
    assert.ok(a);
    const { user, runAs: ra } = prepareRunAs({ name: a.name, setAt: 'fleets.acme.user' });
    assert.equal(user.uid, a.uid);
    assert.ok(user.groups.includes(user.gid));
    assert.match(ra.setpriv, /\/setpriv$/);
    const id = runAs(a, ['id', '-u']);
    assert.equal(id.stdout.trim(), String(a.uid));
    assert.equal(runAs(a, ['id', '-g']).stdout.trim(), String(a.gid));
  });

  test('no capability reaches the gateway, even from a non-root fleetd holding ambient capabilities', () => {
    const [a, b] = users as [TenantUser, TenantUser];
    const setpriv = findSetpriv();
    // "fleetd" = user a with AmbientCapabilities=CAP_SETUID CAP_SETGID, as a systemd unit would give it
    const asFleetd = [setpriv, '--reuid', String(a.uid), '--regid', String(a.gid), '--clear-groups', '--inh-caps=+setuid,+setgid', '--ambient-caps=+setuid,+setgid', '--'];
    const caps = (prefix: string[]) => {
      const [file, ...args] = [...asFleetd, ...prefix, 'grep', '-E', '^Cap(Eff|Amb):', '/proc/self/status'];
      const out = spawnSync(file!, args, { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
      assert.equal(out.status, 0, out.stderr);
      return out.stdout.replace(/\s+/g, ' ').trim();
    };
    const plain = [setpriv, '--reuid', String(b.uid), '--regid', String(b.gid), '--init-groups', '--'];
    assert.equal(caps(plain), 'CapEff: 00000000000000c0 CapAmb: 00000000000000c0', 'without the flags the tenant would keep CAP_SETUID/CAP_SETGID');
    assert.equal(caps(userPrefix({ uid: b.uid, gid: b.gid, setpriv })), 'CapEff: 0000000000000000 CapAmb: 0000000000000000');
  });

  test('two tenants: each owns its home (0700) and openclaw.json (0600); neither can read, list or enter the other\'s', () => {
    const [a, b] = users as [TenantUser, TenantUser];
    const homes = [prepareTenantHome(stateDir, 'acme', 'korax', a), prepareTenantHome(stateDir, 'beta', 'vesna', b)];
    const configs = [agentPaths(stateDir, 'acme', 'korax').configPath, agentPaths(stateDir, 'beta', 'vesna').configPath];
    assert.equal(writeTenantFile(stateDir, configs[0]!, '{ secret: "a" }\n', a), true);
    assert.equal(writeTenantFile(stateDir, configs[1]!, '{ secret: "b" }\n', b), true);
    assert.equal(writeTenantFile(stateDir, configs[1]!, '{ secret: "b" }\n', b), false, 'unchanged content is not rewritten');
    for (const [i, user] of [a, b].entries()) {
      const home = statSync(homes[i]!.home);
      assert.deepEqual([home.uid, home.gid, (home.mode & 0o777).toString(8)], [user.uid, user.gid, '700']);
      const cfg = lstatSync(configs[i]!);
      assert.deepEqual([cfg.uid, (cfg.mode & 0o777).toString(8)], [user.uid, '600']);
      for (const sub of ['.openclaw', 'workspace', 'logs', '.cache', 'tmp']) assert.equal(statSync(join(homes[i]!.home, sub)).uid, user.uid, sub);
    }
    for (const dir of [stateDir, join(stateDir, 'fleets'), join(stateDir, 'fleets', 'acme')]) assert.equal((statSync(dir).mode & 0o011).toString(8), '11', `${dir} can be passed through`);

    assert.equal(runAs(a, ['cat', configs[0]!]).stdout, '{ secret: "a" }\n', 'a tenant reads its own config');
    for (const [who, other] of [[a, 1], [b, 0]] as const) {
      const cat = runAs(who, ['cat', configs[other]!]);
      assert.notEqual(cat.status, 0);
      assert.match(cat.stderr, /Permission denied/);
      assert.doesNotMatch(cat.stdout, /secret/);
      assert.match(runAs(who, ['ls', homes[other]!.home]).stderr, /Permission denied/, 'cannot list the other home');
    }
    assert.match(runAs(a, ['ls', join(stateDir, 'fleets')]).stderr, /Permission denied/, 'cannot list which fleets exist');
  });

  test('a symlink planted in the home is refused by name; the write goes nowhere else', () => {
    const [a] = users as [TenantUser];
    prepareTenantHome(stateDir, 'acme', 'sym', a);
    const paths = agentPaths(stateDir, 'acme', 'sym');
    const victim = join(stateDir, 'victim');
    mkdirSync(victim);
    renameSync(paths.openclawDir, `${paths.openclawDir}.moved`);
    symlinkSync(victim, paths.openclawDir);
    assert.throws(() => writeTenantFile(stateDir, paths.configPath, 'x', a), new RegExp(`refusing to write ${paths.configPath}: ${paths.openclawDir} is a symlink`));
    assert.throws(() => prepareTenantHome(stateDir, 'acme', 'sym', a), /refusing .*\/\.openclaw: it is a symlink, and fleetd never writes through one/);
    assert.equal(spawnSync('ls', ['-A', victim], { encoding: 'utf8' }).stdout, '', 'nothing was written through the link');
  });

  test('a swap after the check cannot redirect the write: it lands in the folder that was opened', () => {
    const [a] = users as [TenantUser];
    prepareTenantHome(stateDir, 'acme', 'race', a);
    const paths = agentPaths(stateDir, 'acme', 'race');
    const dir = openDirChain(stateDir, ['fleets', 'acme', 'race', '.openclaw']);
    const elsewhere = join(stateDir, 'elsewhere');
    mkdirSync(elsewhere);
    try {
      // the tenant swaps .openclaw for a symlink between fleetd's check and its write
      renameSync(paths.openclawDir, `${paths.openclawDir}.old`);
      symlinkSync(elsewhere, paths.openclawDir);
      writeFileIn(dir, 'openclaw.json', 'token', { mode: 0o600, owner: a });
    } finally {
      dir.close();
    }
    assert.equal(spawnSync('ls', ['-A', elsewhere], { encoding: 'utf8' }).stdout, '');
    assert.equal(readFileSync(join(`${paths.openclawDir}.old`, 'openclaw.json'), 'utf8'), 'token', 'written into the opened folder, now renamed by the tenant');
  });

  test('a home fleetd made for itself is handed over once; hard links to outside files keep their owner', () => {
    const [a] = users as [TenantUser];
    const paths = agentPaths(stateDir, 'acme', 'old');
    mkdirSync(join(paths.home, 'workspace', 'notes'), { recursive: true, mode: 0o700 });
    writeFileSync(join(paths.home, 'workspace', 'notes', 'n.md'), 'hi');
    const outside = join(stateDir, 'outside-secret');
    writeFileSync(outside, 'root only', { mode: 0o600 });
    linkSync(outside, join(paths.home, 'workspace', 'linked'));
    symlinkSync('/etc/passwd', join(paths.home, 'workspace', 'etc-link'));
    const report = prepareTenantHome(stateDir, 'acme', 'old', a);
    assert.ok(report.chowned >= 4, `chowned ${report.chowned}`);
    assert.deepEqual(report.skipped, [join(paths.home, 'workspace', 'linked')]);
    assert.equal(statSync(join(paths.home, 'workspace', 'notes', 'n.md')).uid, a.uid);
    assert.equal(statSync(outside).uid, 0, 'the hard-linked outside file still belongs to root');
    assert.equal(lstatSync(join(paths.home, 'workspace', 'etc-link')).uid, a.uid, 'the symlink itself is the tenant\'s');
    assert.equal(statSync('/etc/passwd').uid, 0, 'its target is untouched');
    assert.equal(prepareTenantHome(stateDir, 'acme', 'old', a).chowned, 0, 'a second run changes nothing');
  });

  test('accessProblem walks the path like the kernel: a runtime under a 0700 folder is unreachable', () => {
    const [a] = users as [TenantUser];
    const hidden = join(stateDir, 'hidden');
    mkdirSync(join(hidden, 'rt'), { recursive: true, mode: 0o700 });
    writeFileSync(join(hidden, 'rt', 'node'), '', { mode: 0o755 });
    assert.match(accessProblem(join(hidden, 'rt', 'node'), a, 'rx') ?? '', new RegExp(`uid ${a.uid} cannot enter ${hidden} \\(mode 700, owner 0:0\\); e\\.g\\. chmod o\\+x ${hidden}`));
    execFileSync('chmod', ['0755', hidden, join(hidden, 'rt')]);
    assert.equal(accessProblem(join(hidden, 'rt', 'node'), a, 'rx'), undefined);
    writeFileSync(join(hidden, 'rt', 'entry.mjs'), '', { mode: 0o600 });
    assert.match(accessProblem(join(hidden, 'rt', 'entry.mjs'), a, 'r') ?? '', /cannot read .*entry\.mjs \(mode 600/);
  });
});
