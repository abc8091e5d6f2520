// End to end: bad input of every kind reaches the built fleetd and fleetctl (issue 9 item 5).
// Each gets a located, clear answer, and nothing that runs is disturbed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { request } from 'node:http';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { waitFor } from '../../src/util/wait-for.js';
import { cleanup, fakeManifest, run, status, tempDir, withFleetd, writeManifest, agentHome, gatewayLog, FLEETCTL, FLEETD, type Fleetd } from './harness.js';
import { rawExchange } from '../support/raw-socket.js';

/** One request over the control socket: status and parsed body. */
function send(socket: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const req = request({ socketPath: socket, method, path, headers: text === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } }, (res) => {
      let out = '';
      res.on('data', (d) => (out += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: out ? JSON.parse(out) : undefined }));
    });
    req.on('error', reject);
    req.end(text);
  });
}

/** Raw bytes to the socket; whatever comes back. */
const raw = rawExchange;

/** address -> pid of every agent. */
async function pids(f: Fleetd): Promise<Record<string, number>> {
  return Object.fromEntries((await status(f)).map((a) => [a.address, a.pid]));
}

test('reload refuses, with a located 4xx, a manifest nested 100 000 levels, one with `fleets` written twice, and changed paths; nothing changes', async () => {
  const base = fakeManifest({ acme: { agents: { alpha: {}, beta: {} } } });
  await withFleetd(base, { waitRunning: 2 }, async (f, seen) => {
    const before = await pids(f);
    seen.push(...Object.values(before));
    const text = JSON.stringify(base, null, 2);
    const deep = (open: string, close: string) => `${open.repeat(100_000)}1${close.repeat(100_000)}`;
    const attempts: Array<[string, string, number, RegExp]> = [
      ['objects 100 000 deep', text.replace('"alpha": {}', `"alpha": { "config": { "x": ${deep('{"y":', '}')} } }`), 422, /fleets\.json5:\d+:\d+: fleets\.acme\.agents\.alpha\.config\.x.*nested deeper than 100 levels/],
      ['arrays 100 000 deep', text.replace('"alpha": {}', `"alpha": { "config": { "x": ${deep('[', ']')} } }`), 422, /nested deeper than 100 levels/],
      // the case: a second `fleets` that drops beta; JSON5 alone would keep it and stop beta
      ['fleets written twice', text.replace(/\n}$/, ',\n  "fleets": { "acme": { "agents": { "alpha": {} } } }\n}'), 422, /fleets\.json5:\d+:3: fleets: key written twice in the same object \(first at \d+:3, again at \d+:3\)/],
      ['stateDir changed', text.replace('"stateDir": "./state"', '"stateDir": "./elsewhere"'), 409, /stateDir changed from .* needs a restart of fleetd/],
      ['socket changed', text.replace('"socket": "./fleetd.sock"', '"socket": "./other.sock"'), 409, /socket changed from .* needs a restart of fleetd/],
      ['socket too long (validate refuses it)', text.replace('"socket": "./fleetd.sock"', `"socket": "./${'s'.repeat(120)}.sock"`), 422, /socket: must be at most 100 bytes/],
      ['runtimesDir changed', text.replace('"stateDir": "./state",', '"stateDir": "./state", "runtimesDir": "./rt",'), 409, /runtimesDir changed/],
    ];
    for (const [name, manifest, code, message] of attempts) {
      await writeFile(f.manifestPath, manifest);
      const res = await send(f.socket, 'POST', '/v1/reload', {});
      assert.equal(res.status, code, `${name}: ${JSON.stringify(res.body).slice(0, 300)}`);
      assert.match(res.body.error.message, message, name);
      const cli = await f.ctl('reload');
      assert.equal(cli.code, 1, `${name}: fleetctl reload fails`);
      // and a SIGHUP changes nothing either
      f.child.kill('SIGHUP');
      await waitFor(() => (f.output().match(/reload refused; nothing changed/g)?.length ?? 0) >= attempts.indexOf(attempts.find((a) => a[0] === name)!) + 1, { timeoutMs: 10_000, what: `${name}: SIGHUP refused` });
      assert.deepEqual(await pids(f), before, `${name}: every agent runs on, untouched`);
    }
    const validate = await run(process.execPath, [FLEETD, 'validate', '--manifest', f.manifestPath]);
    assert.equal(validate.code, 0, 'the last manifest (a runtimesDir change) is valid, only not reloadable');
  });
});

test('ids that are Object.prototype members (constructor) behave like any other id, through fleetd', async () => {
  const manifest = fakeManifest({ constructor: { agents: { constructor: {} } }, acme: { agents: { alpha: {} } } });
  await withFleetd(manifest, { waitRunning: 2 }, async (f, seen) => {
    const agents = await status(f);
    assert.deepEqual(agents.map((a) => a.address).sort(), ['acme/alpha', 'constructor/constructor']);
    seen.push(...agents.map((a) => a.pid));
    // declared in the manifest: refused as such; not declared: added like any other
    const declared = await send(f.socket, 'POST', '/v1/agents', { fleet: 'constructor', agent: 'constructor' });
    assert.equal(declared.status, 409, JSON.stringify(declared.body));
    assert.match(declared.body.error.message, /declared in the manifest/);
    for (const [fleet, agent] of [['acme', 'constructor'], ['constructor', 'x'], ['newfleet', 'constructor']] as const) {
      const added = await send(f.socket, 'POST', '/v1/agents', { fleet, agent, start: false });
      assert.equal(added.status, 200, `add ${fleet}/${agent}: ${JSON.stringify(added.body)}`);
      assert.equal(added.body.agent.address, `${fleet}/${agent}`);
    }
    const stop = await f.ctl('stop', 'agent', 'constructor/constructor');
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal(stop.json.agent.state, 'stopped');
    const start = await f.ctl('start', 'agent', 'constructor/constructor');
    assert.equal(start.code, 0, start.stderr);
    seen.push(start.json.agent.pid);
    assert.equal((await f.ctl('token', 'constructor/constructor')).code, 0);
    assert.equal((await f.ctl('logs', 'constructor/constructor', '-n', '1')).code, 0);
    for (const [fleet, agent] of [['acme', 'constructor'], ['constructor', 'x'], ['newfleet', 'constructor']] as const) {
      const removed = await send(f.socket, 'DELETE', `/v1/agents/${fleet}/${agent}`, {});
      assert.equal(removed.status, 200, `remove ${fleet}/${agent}: ${JSON.stringify(removed.body)}`);
    }
    const gone = await send(f.socket, 'DELETE', '/v1/agents/constructor/x', {});
    assert.equal(gone.status, 404);
    const refused = await send(f.socket, 'DELETE', '/v1/agents/constructor/constructor', {});
    assert.equal(refused.status, 409, 'a manifest agent is refused, as for any id');
    assert.deepEqual((await status(f)).map((a) => a.address).sort(), ['acme/alpha', 'constructor/constructor']);
  });
});

test('malformed HTTP/1.1 on the socket is refused with 4xx and stops nothing; many slow clients do not keep others out', async () => {
  await withFleetd(fakeManifest({ acme: { agents: { alpha: {} } } }), { waitRunning: 1 }, async (f, seen) => {
    const before = await pids(f);
    seen.push(...Object.values(before));
    const stop = 'POST /v1/agents/acme/alpha/stop HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n';
    for (const bytes of [
      `${stop}Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}`,
      `${stop}Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}`,
      `${stop}Transfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n`,
      `${stop}X-Folded: a\r\n b\r\nContent-Length: 2\r\n\r\n{}`,
      'POST /v1/agents/acme/alpha/stop HTTP/7.0\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}',
      'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
    ]) {
      const answer = await raw(f.socket, bytes);
      assert.match(answer, /^HTTP\/1\.1 4\d\d /, JSON.stringify(bytes));
    }
    // 30 clients that connect and send half a request head, and stay
    const hanging = Array.from({ length: 30 }, () => {
      const s = connect(f.socket);
      s.on('error', () => {});
      s.write('POST /v1/agents/acme/alpha/stop HTTP/1.1\r\nHost: x\r\n');
      return s;
    });
    try {
      for (let i = 0; i < 5; i++) assert.equal((await f.ctl('status')).code, 0, 'others are served');
    } finally {
      for (const s of hanging) s.destroy();
    }
    assert.deepEqual(await pids(f), before, 'alpha was never stopped');
  });
});

test('fleetctl logs -n on a rotated log without a single line break gives a bounded answer', async () => {
  await withFleetd(fakeManifest({ acme: { agents: { alpha: {} } } }), { waitRunning: 1 }, async (f, seen) => {
    seen.push(...Object.values(await pids(f)));
    const logs = dirname(gatewayLog(f.stateDir, 'acme/alpha'));
    for (let i = 1; i <= 4; i++) await writeFile(join(logs, `gateway.log.${i}`), 'x'.repeat(2_700_000));
    for (const n of ['3', '100000']) {
      const json = await f.ctl('logs', 'acme/alpha', '-n', n);
      assert.equal(json.code, 0, json.stderr);
      assert.ok(json.stdout.length < 200_000, `-n ${n} --json: ${json.stdout.length} bytes`);
      const human = await run(process.execPath, [FLEETCTL, '--socket', f.socket, 'logs', 'acme/alpha', '-n', n]);
      assert.ok(human.stdout.length < 200_000, `-n ${n}: ${human.stdout.length} bytes`);
      assert.match(human.stdout, /\[fleetd: \d+ characters of this line not shown\]/);
    }
  });
});

test('--socket naming a directory, a regular file, /dev/null or a missing path: fleetctl and fleetd say what the path is', async () => {
  const dir = await tempDir();
  try {
    await mkdir(join(dir, 'a-dir'));
    await writeFile(join(dir, 'a-file'), 'x');
    const cases: Array<[string, RegExp]> = [
      [join(dir, 'a-dir'), /\(it is a directory, not a socket\)/],
      [join(dir, 'a-file'), /\(it is a regular file, not a socket\)/],
      ['/dev/null', /\(it is a character device, not a socket\)/],
      [join(dir, 'missing.sock'), /\(no socket file there\)/],
      [join(dir, 'a-file', 'x.sock'), /\(a part of the path is not a folder\)/],
    ];
    for (const [path, message] of cases) {
      const res = await run(process.execPath, [FLEETCTL, '--socket', path, 'status']);
      assert.equal(res.code, 3, path);
      assert.match(res.stderr, message, path);
      const json = await run(process.execPath, [FLEETCTL, '--socket', path, '--json', 'status']);
      assert.equal(json.json.error.code, 'DAEMON_UNREACHABLE');
    }
    // fleetd told to listen on such a path refuses, saying what it is, and leaves it alone
    const manifest = await writeManifest(dir, fakeManifest({}));
    for (const [path, what] of [[join(dir, 'a-dir'), 'a directory'], [join(dir, 'a-file'), 'a regular file'], ['/dev/null', 'a character device']] as const) {
      const res = await run(process.execPath, [FLEETD, 'start', '--manifest', manifest, '--socket', path]);
      assert.equal(res.code, 1, res.stderr);
      assert.match(res.stderr, new RegExp(`${path.replace(/[/.]/g, '\\$&')} exists and is ${what}, not a socket`));
    }
  } finally {
    await cleanup(dir);
  }
});
