import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { request } from 'node:http';
import { FleetError } from '../errors.js';
import { callRaw } from '../protocol/client.js';
import { routes, type RouteName } from '../protocol/schemas.js';
import { withTempDir } from '../util/temp-dir.js';
import { waitFor } from '../util/wait-for.js';
import { createControlServer, JsonText, type ControlServerOptions, type HandlerMap } from './http-server.js';
import { stringifyRedacted } from '../supervise/redact.js';
import { createLogger, secretMatcher } from './logger.js';
import { rawExchange } from '../../test/support/raw-socket.js';

const TOKEN = '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';

/** A server on a temp socket whose handlers only record that they ran. */
async function serve(dir: string, options: ControlServerOptions = {}) {
  const calls: RouteName[] = [];
  const said = `gateway said: bad token ${TOKEN.slice(5, 40)}`;
  const handlers = Object.fromEntries(
    (Object.keys(routes) as RouteName[]).map((name) => [
      name,
      async () => {
        calls.push(name);
        if (name === 'token') return { address: 'acme/a', token: TOKEN };
        // an answer that writes its own text (the status of every agent): redacted with the server's secrets
        if (name === 'status') return new JsonText((secrets) => `{"agents":[${stringifyRedacted({ reason: said }, secrets)}]}`);
        return { ok: true, pid: 1, version: 'x', reason: said };
      },
    ]),
  ) as unknown as HandlerMap;
  const server = createControlServer(handlers, createLogger({ destination: new PassThrough(), pretty: false }), options);
  const socket = join(dir, 's.sock');
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return {
    socket,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Raw bytes to the socket; whatever comes back. */
const raw = rawExchange;

/** GET over the socket; resolves with status and body text. */
function get(socket: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const MALFORMED: Array<[string, string]> = [
  ['not HTTP at all', 'THIS IS NOT HTTP\r\n\r\n'],
  ['HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'],
  ['unknown HTTP version', 'POST /v1/reload HTTP/9.9\r\nHost: x\r\n\r\n'],
  ['space in the target', 'POST /v1/agents/acme/a/stop now HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['header line without a colon', 'POST /v1/reload HTTP/1.1\r\nHost x\r\nContent-Length: 2\r\n\r\n{}'],
  ['NUL in a header', 'POST /v1/reload HTTP/1.1\r\nHost: x\0y\r\nContent-Length: 2\r\n\r\n{}'],
  ['folded header (obs-fold)', 'POST /v1/reload HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\nContent-Length: 2\r\n\r\n{}'],
  ['Content-Length and Transfer-Encoding (smuggling)', 'POST /v1/agents/acme/a/stop HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}'],
  ['two different Content-Lengths', 'POST /v1/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}'],
  ['Content-Length not a number', 'POST /v1/reload HTTP/1.1\r\nHost: x\r\nContent-Length: two\r\n\r\n{}'],
  ['bad chunk size', 'POST /v1/reload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n'],
  ['chunked not last', 'POST /v1/reload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n2\r\n{}\r\n0\r\n\r\n'],
  ['body cut short', 'POST /v1/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{"dryRun":'],
  ['chunked body cut short', 'POST /v1/reload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n{"dryRun":'],
  ['header section too large', `GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(100_000)}\r\n\r\n`],
];

describe('control server: malformed HTTP/1.1 (issue 9 item 5)', () => {
  test('each malformed request is answered 4xx (or the connection ends) and no handler ever runs', () =>
    withTempDir(async (dir) => {
      const s = await serve(dir);
      try {
        for (const [name, bytes] of MALFORMED) {
          const answer = await raw(s.socket, bytes);
          if (answer !== '') assert.match(answer, /^HTTP\/1\.1 4\d\d /, `${name}: ${answer.slice(0, 120)}`);
          else assert.ok(name.includes('cut short'), `${name}: closed without an answer`);
          assert.deepEqual(s.calls, [], `${name}: no handler ran`);
        }
        assert.equal((await get(s.socket, '/v1/health')).status, 200, 'and the server still answers');
      } finally {
        await s.close();
      }
    }));

  test('a body nested 100 000 levels is a located 400, not a crash', () =>
    withTempDir(async (dir) => {
      const s = await serve(dir);
      try {
        const body = `{"fleet":"acme","agent":"a","config":${'{"x":'.repeat(100_000)}1${'}'.repeat(100_000)}}`;
        const answer = await raw(s.socket, `POST /v1/agents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
        assert.match(answer, /^HTTP\/1\.1 400 /);
        assert.match(answer, /request body nests deeper than 100 levels at body\.config\.x\.x\.x\.x\.\.\.\(\d+ more levels\)(\.x){6}; flatten it/);
        assert.deepEqual(s.calls, []);
      } finally {
        await s.close();
      }
    }));
});

describe('control server: slow clients (issue 9 item 5)', () => {
  test('clients dribbling headers or a body, or sending nothing, are cut off; others are served meanwhile', () =>
    withTempDir(async (dir) => {
      const s = await serve(dir, { headersTimeoutMs: 400, requestTimeoutMs: 800, checkIntervalMs: 50 });
      const slow: Array<{ socket: Socket; closed: boolean; answer: string; timer?: NodeJS.Timeout }> = [];
      const open = (first: string, dribble: string) => {
        const socket = connect(s.socket);
        const c: (typeof slow)[number] = { socket, closed: false, answer: '' };
        socket.on('data', (d) => (c.answer += d));
        socket.on('close', () => {
          c.closed = true;
          clearInterval(c.timer);
        });
        socket.on('error', () => {});
        socket.write(first);
        if (dribble) c.timer = setInterval(() => socket.writable && socket.write(dribble), 30);
        slow.push(c);
      };
      try {
        for (let i = 0; i < 5; i++) open('POST /v1/reload HTTP/1.1\r\nHost: x\r\n', 'X-Slow: a\r\n'); // headers that never end
        for (let i = 0; i < 5; i++) open('POST /v1/reload HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{', ' '); // a body that never ends
        for (let i = 0; i < 3; i++) open('', ''); // connected, silent
        // While they hang on, others are served.
        for (let i = 0; i < 5; i++) assert.equal((await get(s.socket, '/v1/health')).status, 200);
        await waitFor(() => slow.every((c) => c.closed), { timeoutMs: 15_000, what: 'every slow client to be cut off' });
        assert.deepEqual(s.calls, ['health', 'health', 'health', 'health', 'health'], 'no slow request reached a handler');
        for (const c of slow.filter((x) => x.answer !== '')) assert.match(c.answer, /^HTTP\/1\.1 408 /);
        assert.equal((await get(s.socket, '/v1/health')).status, 200);
      } finally {
        for (const c of slow) {
          clearInterval(c.timer);
          c.socket.destroy();
        }
        await s.close();
      }
    }));
});

describe('control server: secrets in answers (issue 9 item 6)', () => {
  test('every answer is redacted, pieces included; the token route alone answers the token', () =>
    withTempDir(async (dir) => {
      const s = await serve(dir, { matcher: secretMatcher(() => [TOKEN]) });
      try {
        const health = await get(s.socket, '/v1/health');
        assert.equal(JSON.parse(health.body).reason, 'gateway said: bad token <redacted>');
        const status = await get(s.socket, '/v1/agents');
        assert.equal(status.status, 200);
        assert.deepEqual(JSON.parse(status.body), { agents: [{ reason: 'gateway said: bad token <redacted>' }] }, 'an answer that writes its own text gets the same secrets');
        const token = await get(s.socket, '/v1/agents/acme/a/token');
        assert.equal(JSON.parse(token.body).token, TOKEN);
      } finally {
        await s.close();
      }
    }));

  test('one matcher for the log and the answers (as fleetd runs them): a secret added later is redacted in both', () =>
    withTempDir(async (dir) => {
      let list: readonly string[] = [];
      const matcher = secretMatcher(() => list);
      const out = new PassThrough();
      const lines: string[] = [];
      out.on('data', (chunk: Buffer) => lines.push(chunk.toString()));
      const log = createLogger({ destination: out, pretty: false, matcher });
      const s = await serve(dir, { matcher });
      try {
        assert.equal(JSON.parse((await get(s.socket, '/v1/health')).body).reason, `gateway said: bad token ${TOKEN.slice(5, 40)}`, 'no secret yet');
        list = [TOKEN];
        assert.equal(JSON.parse((await get(s.socket, '/v1/health')).body).reason, 'gateway said: bad token <redacted>');
        log.info({ said: `the token is ${TOKEN}` }, 'hello');
        await waitFor(() => lines.length > 0, { timeoutMs: 5000 });
        assert.ok(!lines.join('').includes(TOKEN.slice(5, 40)), 'the log line is redacted with the same matcher');
        assert.match(lines.join(''), /the token is <redacted>/);
      } finally {
        await s.close();
      }
    }));
});

describe('control server: uploads it refuses', () => {
  /** A server whose restore handler answers at once, reading none of the upload. */
  async function refusing(dir: string, answer: 'error' | 'cut') {
    const handlers = Object.fromEntries(
      (Object.keys(routes) as RouteName[]).map((name) => [
        name,
        async (request: { upload?: import('node:http').IncomingMessage }) => {
          if (answer === 'cut') request.upload?.socket.destroy();
          // answer while the client is in the middle of sending: the first bytes have arrived, the rest are on their way
          else if (request.upload) await once(request.upload, 'readable');
          throw new FleetError('CONFLICT', 'acme/a is running; a restore replaces its home, so stop it first');
        },
      ]),
    ) as unknown as HandlerMap;
    const server = createControlServer(handlers, createLogger({ destination: new PassThrough(), pretty: false }));
    const socket = join(dir, 's.sock');
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    return { socket, close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))) };
  }
  /** 8 MiB in 64 KiB chunks: more than a socket buffer holds, so the client is still sending when the answer comes. */
  const archive = () => Readable.from((function* () { for (let i = 0; i < 128; i++) yield Buffer.alloc(64 * 1024, i); })());
  /** Runs a command to its end; its exit code and output. */
  const execFileText = (cmd: string, args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });

  test('the client (fleetctl\'s, in its own process) always reads the refusal: never EPIPE, never a hang, however far the upload got', () =>
    withTempDir(async (dir) => {
      const s = await refusing(dir, 'error');
      try {
        const client = new URL('../protocol/client.js', import.meta.url).href;
        const source = `import { Readable } from 'node:stream';
import { callRaw } from ${JSON.stringify(client)};
const archive = () => Readable.from((function* () { for (let i = 0; i < 128; i++) yield Buffer.alloc(64 * 1024, i); })());
for (let i = 0; i < 30; i++) {
  const err = await callRaw(${JSON.stringify(s.socket)}, 'restore', { params: { fleet: 'acme', agent: 'a' }, query: { newToken: '0', start: '1' }, upload: archive() }).then(() => undefined, (e) => e);
  console.log(JSON.stringify({ code: err?.code, message: err?.message }));
}`;
        const r = await execFileText(process.execPath, ['--input-type=module', '-e', source]);
        assert.equal(r.code, 0, `the client process ended with ${r.code} (13: it waited for an answer that never came): ${r.stderr}`);
        const answers = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { code?: string; message?: string });
        assert.equal(answers.length, 30);
        for (const [i, a] of answers.entries()) {
          assert.equal(a.code, 'CONFLICT', `attempt ${i}: ${a.message}`);
          assert.match(a.message ?? '', /stop it first/);
        }
      } finally {
        await s.close();
      }
    }));

  test('a connection cut without an answer is an error naming the route, not a hang', () =>
    withTempDir(async (dir) => {
      const s = await refusing(dir, 'cut');
      try {
        const err = await callRaw(s.socket, 'restore', { params: { fleet: 'acme', agent: 'a' }, query: { newToken: '0', start: '1' }, upload: archive() }).then(
          () => undefined,
          (e: unknown) => e,
        );
        assert.ok(err instanceof FleetError, String(err));
        assert.equal(err.code, 'DAEMON_UNREACHABLE');
        assert.match(err.message, /closed the connection before it answered restore/);
      } finally {
        await s.close();
      }
    }));
});
