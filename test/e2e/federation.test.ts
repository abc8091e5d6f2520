// End to end with the fake gateway: federation from the manifest under the built fleetd.
// Address books, hooks config, `fleetctl federation` and `token --hooks`; reloads that
// add and remove calls reconfigure (in place) only the agents whose own openclaw.json changed and
// rewrite the address books of the others in place; an invalid reference changes nothing;
// no hooks token reaches any log.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { postMessage, mailboxPaths } from '../../src/federation/mailbox.js';
import { agentHome, cleanup, fakeInfo, fakeManifest, run, startFleetd, stopFleetd, tempDir, waitAllDead, waitForAgent, waitForRunning, FLEETCTL, type Fleetd } from './harness.js';

const BOOK = ['workspace', '.fleetd', 'federation'];

describe('federation under fleetd (fake gateway)', { timeout: 180_000 }, () => {
  let dir = '';
  let f: Fleetd;
  const seen = new Set<number>();
  const tokensSeen = new Set<string>();
  let manifestOf: (agents: Record<string, unknown>) => Record<string, unknown>;

  const book = async (address: string) => JSON.parse(await readFile(join(agentHome(f.stateDir, address), ...BOOK, 'address-book.json'), 'utf8'));
  const config = async (address: string) => JSON.parse(await readFile(join(agentHome(f.stateDir, address), '.openclaw', 'openclaw.json'), 'utf8'));
  const pid = async (address: string) => {
    const p = (await fakeInfo(f.stateDir, address)).pid;
    seen.add(p);
    return p;
  };
  const hooksToken = async (address: string) => {
    const r = await run(process.execPath, [FLEETCTL, '--socket', f.socket, 'token', address, '--hooks']);
    assert.equal(r.code, 0, r.stderr);
    const token = r.stdout.trim();
    tokensSeen.add(token);
    return token;
  };
  const reload = async (agents: Record<string, unknown>) => {
    await writeFile(f.manifestPath, JSON.stringify(manifestOf(agents), null, 2));
    return f.ctl('reload');
  };

  before(async () => {
    dir = await tempDir();
    await mkdir(join(dir, 'koda'));
    await mkdir(join(dir, 'docs'));
    manifestOf = (agents) => fakeManifest({ acme: { agents } }, { knowledge: { koda: './koda', docs: './docs' } });
    f = await startFleetd(
      dir,
      manifestOf({
        korax: { calls: ['acme/goreos'], knowledge: ['koda', 'docs'], description: 'talks to people' },
        goreos: { knowledge: ['koda'], description: 'the architect' },
        medico: { knowledge: ['docs'] },
      }),
      { waitRunning: 3 },
    );
  });

  after(async () => {
    if (f) await stopFleetd(f);
    await waitAllDead([...seen]);
    if (dir) await cleanup(dir);
  });

  test('the callee gets hooks with its own token; the caller\'s address book lists it and no one else', async () => {
    const token = await hooksToken('acme/goreos');
    assert.match(token, /^[0-9a-f]{64}$/);
    const gatewayToken = (await f.ctl('token', 'acme/goreos')).json.token;
    assert.notEqual(token, gatewayToken);
    const goreos = await config('acme/goreos');
    assert.deepEqual(goreos.hooks, { enabled: true, token, path: '/hooks', allowRequestSessionKey: false, defaultSessionKey: 'hook:fleetd', allowedSessionKeyPrefixes: ['hook:'] });
    assert.deepEqual(goreos.memory.search.extraPaths, [join(dir, 'koda')]);
    assert.deepEqual((await config('acme/korax')).memory.search.extraPaths, [join(dir, 'koda'), join(dir, 'docs')]);
    assert.equal((await config('acme/korax')).hooks, undefined, 'nobody calls korax: no hooks');
    const korax = await book('acme/korax');
    assert.deepEqual(korax.agents.map((a: any) => [a.address, a.description, a.token, a.url]), [
      ['acme/goreos', 'the architect', token, `http://127.0.0.1:${goreos.gateway.port}`],
    ]);
    const folder = join(agentHome(f.stateDir, 'acme/korax'), ...BOOK);
    assert.equal((await stat(folder)).mode & 0o777, 0o700);
    assert.equal((await stat(join(folder, 'address-book.json'))).mode & 0o777, 0o600);
    assert.ok(!(await readFile(join(folder, 'address-book.md'), 'utf8')).includes(token));
    assert.deepEqual((await book('acme/goreos')).agents, [], 'the callee\'s book lists no one to call, only its inbox');
    assert.equal(existsSync(join(agentHome(f.stateDir, 'acme/medico'), ...BOOK)), false, 'medico takes no part in calls');
    const r = await f.ctl('token', 'acme/medico', '--hooks');
    assert.equal(r.code, 1);
    assert.equal(r.json.error.code, 'NOT_FOUND');
    assert.match(r.json.error.message, /no agent calls it/);
  });

  test('fleetctl federation shows the graph, knowledge and mailbox backlogs, never a token', async () => {
    const paths = mailboxPaths(f.stateDir, 'acme.korax-to-acme.goreos');
    assert.equal((await stat(paths.new)).mode & 0o777, 0o700);
    await postMessage(paths, 'acme/korax', 'acme/goreos', { type: 'ask', payload: 'plans for the east wing?' });
    const r = await f.ctl('federation');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.json.edges, [{ from: 'acme/korax', to: 'acme/goreos', mailbox: paths.dir, backlog: 1 }]);
    assert.deepEqual(
      r.json.agents.map((a: any) => [a.address, a.calls, a.callers, a.hooks, a.knowledge.map((k: any) => k.name)]),
      [
        ['acme/goreos', [], ['acme/korax'], true, ['koda']],
        ['acme/korax', ['acme/goreos'], [], false, ['koda', 'docs']],
        ['acme/medico', [], [], false, ['docs']],
      ],
    );
    assert.equal(r.json.usersEnforced, false);
    for (const token of tokensSeen) assert.ok(!r.stdout.includes(token));
    const human = await run(process.execPath, [FLEETCTL, '--socket', f.socket, 'federation']);
    assert.equal(human.code, 0);
    assert.match(human.stdout, /acme\/goreos\s+yes\s+-\s+acme\/korax\s+on\s+koda/);
    assert.match(human.stdout, /acme\/korax\s+acme\/goreos\s+1\s+/);
    assert.match(human.stderr, /knowledge is not read-only/);
  });

  test('a reload adding a call reconfigures only the new callee (in place, same pid) and rewrites the caller\'s book in place', async () => {
    const before = { korax: await pid('acme/korax'), goreos: await pid('acme/goreos'), medico: await pid('acme/medico') };
    const goreosToken = await hooksToken('acme/goreos');
    const r = await reload({
      korax: { calls: ['acme/goreos', 'acme/medico'], knowledge: ['koda', 'docs'], description: 'talks to people' },
      goreos: { knowledge: ['koda'], description: 'the architect' },
      medico: { knowledge: ['docs'], description: 'the clinician' },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.json.actions.map((a: any) => [a.kind, a.address, a.reason]), [['reconfigure', 'acme/medico', 'openclaw.json changed']]);
    assert.deepEqual(r.json.reconfigured.map((o: any) => [o.address, o.result]), [['acme/medico', 'applied']], 'hooks hot-apply');
    assert.equal(await pid('acme/medico'), before.medico);
    assert.equal(await pid('acme/korax'), before.korax);
    assert.equal(await pid('acme/goreos'), before.goreos);
    assert.equal(await hooksToken('acme/goreos'), goreosToken, 'a new caller elsewhere does not rotate goreos\' token');
    const medicoToken = await hooksToken('acme/medico');
    assert.equal((await config('acme/medico')).hooks.token, medicoToken);
    const korax = await book('acme/korax');
    assert.deepEqual(korax.agents.map((a: any) => [a.address, a.description, a.token]), [
      ['acme/goreos', 'the architect', goreosToken],
      ['acme/medico', 'the clinician', medicoToken],
    ]);
  });

  test('a reload removing a call rotates the callee\'s token (reconfiguring it in place) and updates the books', async () => {
    const before = { korax: await pid('acme/korax'), goreos: await pid('acme/goreos'), medico: await pid('acme/medico') };
    const oldToken = await hooksToken('acme/goreos');
    const r = await reload({
      korax: { calls: ['acme/medico'], knowledge: ['koda', 'docs'], description: 'talks to people' },
      goreos: { calls: ['acme/medico'], knowledge: ['koda'], description: 'the architect' },
      medico: { knowledge: ['docs'], description: 'the clinician' },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.json.actions.map((a: any) => [a.kind, a.address]), [['reconfigure', 'acme/goreos']], 'goreos lost its hooks (nobody calls it)');
    assert.deepEqual(r.json.reconfigured.map((o: any) => [o.address, o.result]), [['acme/goreos', 'applied']]);
    assert.equal(await pid('acme/goreos'), before.goreos);
    assert.equal((await config('acme/goreos')).hooks, undefined);
    const gone = await f.ctl('token', 'acme/goreos', '--hooks');
    assert.equal(gone.code, 1, 'no token is kept for an agent nobody calls');
    assert.equal(await pid('acme/korax'), before.korax);
    assert.equal(await pid('acme/medico'), before.medico, 'a second caller keeps medico\'s token: no restart');
    assert.deepEqual((await book('acme/korax')).agents.map((a: any) => a.address), ['acme/medico']);
    assert.deepEqual((await book('acme/goreos')).agents.map((a: any) => a.address), ['acme/medico']);
    assert.ok(!JSON.stringify(await book('acme/korax')).includes(oldToken));
    // now korax loses medico: medico's token rotates, goreos keeps calling it with the new one
    const medicoToken = await hooksToken('acme/medico');
    const r2 = await reload({
      korax: { knowledge: ['koda', 'docs'], description: 'talks to people' },
      goreos: { calls: ['acme/medico'], knowledge: ['koda'], description: 'the architect' },
      medico: { knowledge: ['docs'], description: 'the clinician' },
    });
    assert.equal(r2.code, 0, r2.stderr);
    assert.deepEqual(r2.json.actions.map((a: any) => [a.kind, a.address]), [['reconfigure', 'acme/medico']]);
    const rotated = await hooksToken('acme/medico');
    assert.notEqual(rotated, medicoToken);
    assert.equal((await config('acme/medico')).hooks.token, rotated);
    assert.equal((await book('acme/goreos')).agents[0].token, rotated);
    assert.equal(existsSync(join(agentHome(f.stateDir, 'acme/korax'), ...BOOK, 'address-book.json')), false, 'a book is removed when its agent leaves the calls');
    await waitForRunning(f, 3);
  });

  test('an invalid reference is refused with its location and changes nothing', async () => {
    const pids = [await pid('acme/korax'), await pid('acme/goreos'), await pid('acme/medico')];
    const bookBefore = await readFile(join(agentHome(f.stateDir, 'acme/goreos'), ...BOOK, 'address-book.json'), 'utf8');
    const r = await reload({ korax: { calls: ['acme/korax', 'acme/nobody'], knowledge: ['kod'] }, goreos: { calls: ['acme/medico'] }, medico: {} });
    assert.equal(r.code, 1);
    assert.equal(r.json.error.code, 'MANIFEST_INVALID');
    const lines = r.json.error.message.split('\n').map((l: string) => l.slice(f.manifestPath.length + 2));
    assert.deepEqual(lines, [
      'fleets.acme.agents.korax.knowledge[0]: unknown knowledge name "kod"; did you mean "koda"?',
      'fleets.acme.agents.korax.calls[0]: an agent cannot call itself, found "acme/korax"; remove it',
      'fleets.acme.agents.korax.calls[1]: unknown agent "acme/nobody": no such agent in the manifest (agents added with fleetctl cannot be called); declared agents: acme/goreos, acme/korax, acme/medico',
    ]);
    assert.deepEqual([await pid('acme/korax'), await pid('acme/goreos'), await pid('acme/medico')], pids);
    assert.equal(await readFile(join(agentHome(f.stateDir, 'acme/goreos'), ...BOOK, 'address-book.json'), 'utf8'), bookBefore);
  });

  test('no hooks token reaches fleetd\'s log or any gateway log', async () => {
    assert.ok(tokensSeen.size >= 3);
    const logs = [f.output()];
    for (const agent of await readdir(join(f.stateDir, 'fleets', 'acme'))) {
      // OpenClaw's own log in the home, the captured output in fleetd's folder for the agent
      for (const logsDir of [join(f.stateDir, 'fleets', 'acme', agent, 'logs'), join(f.stateDir, 'agents', 'acme', agent)]) {
        for (const name of existsSync(logsDir) ? await readdir(logsDir) : []) if (name.includes('.log')) logs.push(await readFile(join(logsDir, name), 'utf8'));
      }
    }
    assert.match(f.output(), /hooks token rotated: a caller lost access/);
    for (const token of tokensSeen) for (const text of logs) assert.ok(!text.includes(token), 'a hooks token in a log');
  });
});
