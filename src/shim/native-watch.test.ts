// The native shim's `watch` (protocol.ts): it checks a gateway's readiness itself, one
// loopback GET per interval, silent while the answer is 200, and says the first answer that
// is not (then the watch ends). The watched endpoint is a real server in this process that
// counts what it is asked; the shim is the real binary. Whether the shim stopped asking is
// judged against a clock that is itself a watch: a second shim asking a second server at the
// same interval (no fixed sleep, no timing asserted).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingHttpHeaders } from 'node:http';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '../util/wait-for.js';
import { isAlive } from '../supervise/proc.js';
import { launchShim } from '../supervise/shim-client.js';
import type { ShimHandle } from '../supervise/shim-handle.js';
import { rawClient, SHIM_IMPLS, shimSpecFor, withShimAgent, type RawClient, type ShimTestContext } from '../../test/support/shim.js';
import { clientRequestSchema, describeIssues } from './protocol.js';

const native = SHIM_IMPLS.find((i) => i.name === 'native')!;
const node = SHIM_IMPLS.find((i) => i.name === 'node')!;

/** How a test server answers a request. */
type Mode = 'ok' | '503' | 'hang' | 'close' | 'drip' | 'huge-200' | 'huge-head' | 'garbage';

/** A server on 127.0.0.1 that counts the connections it gets and answers as `mode` says. */
interface Endpoint {
  port: number;
  mode: Mode;
  /** Connections accepted so far (one per check). */
  connections: number;
  /** Requests read so far (node:http modes only). */
  requests: Array<{ url: string | undefined; headers: IncomingHttpHeaders }>;
  /** Connections currently open. */
  open: Set<Socket>;
  close(): Promise<void>;
}

/** Starts an Endpoint: node:http for 'ok' and '503' (and 'hang': a request never answered), raw node:net for the hostile modes. */
async function endpoint(mode: Mode): Promise<Endpoint> {
  const timers = new Set<NodeJS.Timeout>();
  const ep: Endpoint = { port: 0, mode, connections: 0, requests: [], open: new Set(), close: async () => undefined };
  const http = createHttpServer((req, res) => {
    ep.requests.push({ url: req.url, headers: req.headers });
    if (ep.mode === 'hang') return;
    res.writeHead(ep.mode === 'ok' ? 200 : 503, { 'content-type': 'application/json' });
    res.end(ep.mode === 'ok' ? '{"ready":true}' : '{"ready":false,"failing":["discord"]}');
  });
  const raw = (socket: Socket) => {
    socket.on('error', () => undefined);
    // the raw modes read (and drop) the request: a paused socket would never see the shim's FIN
    if (ep.mode !== 'ok' && ep.mode !== '503' && ep.mode !== 'hang') socket.resume();
    switch (ep.mode) {
      case 'close':
        return socket.end();
      case 'garbage':
        return socket.end('SSH-2.0-OpenSSH\r\n\r\n');
      case 'drip': {
        // a status line that never ends: one byte every 10 ms, never closed
        socket.write('HTTP/1.1 200 OK\r\n');
        const timer = setInterval(() => socket.write('x'), 10);
        timers.add(timer);
        socket.on('close', () => clearInterval(timer));
        return;
      }
      case 'huge-head':
        // 200 KiB of headers and no end of them, then closed: more than the shim keeps
        return socket.end(`HTTP/1.1 200 OK\r\n${'X-Pad: 0123456789abcdef0123456789abcdef\r\n'.repeat(5000)}`);
      case 'huge-200':
        // a 200 with a 4 MiB body: read to its end, only 64 KiB kept
        return socket.end(`HTTP/1.1 200 OK\r\nContent-Length: ${4 * 1024 * 1024}\r\nConnection: close\r\n\r\n${'y'.repeat(4 * 1024 * 1024)}`);
      default:
        http.emit('connection', socket);
    }
  };
  const server: Server = createNetServer((socket) => {
    ep.connections++;
    ep.open.add(socket);
    socket.on('close', () => ep.open.delete(socket));
    raw(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  ep.port = (server.address() as { port: number }).port;
  ep.close = async () => {
    for (const t of timers) clearInterval(t);
    for (const s of ep.open) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return ep;
}

/** A clock made of a second native shim watching a second server every 100 ms: `after(n)` resolves once n more checks were made. */
interface Clock {
  after(checks: number): Promise<void>;
}

/** Runs `body` with a native shim of the test agent attached over a raw client (hello read), and a Clock; ends both. */
async function withWatchingShim(body: (ctx: ShimTestContext & { client: RawClient; hello: Record<string, unknown>; shimPid: number; clock: Clock; handle: ShimHandle }) => Promise<void>): Promise<void> {
  await withShimAgent({}, async (ctx) => {
    const { agent, runDir, tracker } = ctx;
    // a gateway that says nothing (any message on the socket is the shim's own), and leaves a
    // child holding its pipes when it dies (the exit message then waits for the drain grace);
    // the agent's env marks the child for withShimAgent's cleanup
    const quiet = ['/bin/sh', '-c', '/bin/sleep 600 & exec /bin/sleep 600'];
    const handle = await launchShim(shimSpecFor(agent, { argv: quiet }), native.deps);
    tracker.add(handle.shim.pid, handle.gateway?.pid);
    await handle.detach();
    const client = await rawClient(join(runDir, 'shim.sock'));
    client.send({ type: 'attach', id: 1, protocol: 1 });
    const hello = await client.next((m) => m.type === 'hello');

    // the clock: a gateway that only sleeps, its own run dir, its own server
    const ticks = await endpoint('ok');
    const clockRun = join(agent.dir, 'clock');
    const clockShim = await launchShim(shimSpecFor(agent, { runDir: clockRun, log: { file: join(clockRun, 'gateway.log'), maxBytes: 65536, maxFiles: 2 }, argv: ['/bin/sleep', '600'], env: { PATH: '/usr/bin:/bin' } }), native.deps);
    tracker.add(clockShim.shim.pid, clockShim.gateway?.pid);
    await clockShim.watch({ port: ticks.port, path: '/tick', intervalMs: 100, timeoutMs: 5000 });
    const clock: Clock = {
      after: async (checks) => {
        const until = ticks.connections + checks;
        await waitFor(() => ticks.connections >= until, { timeoutMs: 20_000, what: `${checks} checks of the clock` });
      },
    };
    try {
      await body({ ...ctx, client, hello, shimPid: handle.shim.pid, clock, handle });
    } finally {
      client.socket.destroy();
      for (const shim of [handle, clockShim]) if (shim.gateway && isAlive(shim.gateway.pid)) process.kill(shim.gateway.pid, 'SIGKILL');
      await clockShim.exited;
      await clockShim.close();
      await waitFor(() => !isAlive(handle.shim.pid), { timeoutMs: 5000, what: 'the shim to leave' });
      await ticks.close();
    }
  });
}

/** A watch request of `ep` with id `id`. */
function watchOf(ep: Endpoint, id: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'watch', id, port: ep.port, path: '/readyz', intervalMs: 100, timeoutMs: 1000, ...extra };
}

/** Sends `request` and waits for its answer (by id). */
async function ask(client: RawClient, request: Record<string, unknown>): Promise<Record<string, unknown>> {
  const from = client.messages.length;
  client.send(request);
  return client.next((m) => m.id === request.id, from);
}

/** The first watch-miss from message `from` on. */
function miss(client: RawClient, from: number, timeoutMs = 5000): Promise<Record<string, unknown>> {
  return client.next((m) => m.type === 'watch-miss', from, timeoutMs);
}

/** Open descriptors of `pid`. */
function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

describe('native shim: watch', { skip: native.skip }, () => {
  test('hello names the feature; checks come every interval and the client hears nothing while they answer 200; a 503 is one watch-miss that ends the watch', () =>
    withWatchingShim(async ({ client, hello, clock }) => {
      assert.deepEqual(hello.features, ['watch']);
      const ep = await endpoint('ok');
      try {
        const start = Date.now();
        const from = client.messages.length;
        assert.deepEqual(await ask(client, watchOf(ep, 2)), { type: 'ok', id: 2 });
        await waitFor(() => ep.requests.length >= 3, { timeoutMs: 10_000, what: '3 checks' });
        await ask(client, { type: 'status', id: 3 });
        assert.deepEqual(client.messages.slice(from).map((m) => `${m.type} ${m.id}`), ['ok 2', 'status 3'], 'nothing but the two answers while the checks answer 200');
        const first = ep.requests[0]!;
        assert.equal(first.url, '/readyz');
        assert.equal(first.headers.host, `127.0.0.1:${ep.port}`);
        assert.equal(first.headers.accept, 'application/json');
        assert.equal(first.headers.connection, 'close');

        ep.mode = '503';
        const flipped = client.messages.length;
        const seen = await miss(client, flipped);
        const asked = ep.connections;
        assert.equal(seen.status, 503);
        assert.equal(seen.error, 'answered 503');
        assert.ok(typeof seen.at === 'number' && seen.at >= start && seen.at <= Date.now(), `at: ${String(seen.at)}`);
        await clock.after(5);
        assert.equal(ep.connections, asked, 'no check after the miss');
        assert.equal(client.messages.slice(flipped).filter((m) => m.type === 'watch-miss').length, 1, 'one watch-miss');
      } finally {
        await ep.close();
      }
    }));

  test('a refused connection, a server that never answers, one that closes at once, garbage, and endless headers are each one watch-miss in their words', () =>
    withWatchingShim(async ({ client }) => {
      const refused = await endpoint('ok');
      const port = refused.port;
      await refused.close();
      let from = client.messages.length;
      client.send({ type: 'watch', id: 2, port, path: '/readyz', intervalMs: 100, timeoutMs: 1000 });
      const seen = await miss(client, from);
      assert.deepEqual(seen, { type: 'watch-miss', at: seen.at, status: null, error: 'connection refused' });

      const cases: Array<{ mode: Mode; timeoutMs: number; error: string }> = [
        { mode: 'hang', timeoutMs: 150, error: 'no answer within 150 ms' },
        { mode: 'drip', timeoutMs: 250, error: 'no answer within 250 ms' },
        { mode: 'close', timeoutMs: 1000, error: 'the connection closed without an answer' },
        { mode: 'garbage', timeoutMs: 1000, error: 'malformed answer' },
        { mode: 'huge-head', timeoutMs: 5000, error: 'malformed answer' },
      ];
      for (const [n, c] of cases.entries()) {
        const ep = await endpoint(c.mode);
        try {
          from = client.messages.length;
          client.send(watchOf(ep, 10 + n, { timeoutMs: c.timeoutMs }));
          const seen = await miss(client, from);
          assert.deepEqual({ status: seen.status, error: seen.error }, { status: null, error: c.error }, c.mode);
          assert.equal(ep.connections, 1, `${c.mode}: one check`);
          // the check's connection is closed by the shim (a timeout does not leave it open)
          await waitFor(() => ep.open.size === 0, { timeoutMs: 5000, what: `${c.mode}: the shim to close its connection` });
        } finally {
          await ep.close();
        }
      }
    }));

  test('a 200 with a body far over 64 KiB is read to its end and is a pass', () =>
    withWatchingShim(async ({ client }) => {
      const ep = await endpoint('huge-200');
      try {
        const from = client.messages.length;
        await ask(client, watchOf(ep, 2, { timeoutMs: 5000 }));
        await waitFor(() => ep.connections >= 3, { timeoutMs: 10_000, what: '3 checks' });
        await ask(client, { type: 'status', id: 3 });
        assert.deepEqual(client.messages.slice(from).map((m) => m.type), ['ok', 'status']);
      } finally {
        await ep.close();
      }
    }));

  test('unwatch stops the checks; a second watch replaces the first (only the new port is asked); unwatch without a watch is ok', () =>
    withWatchingShim(async ({ client, clock }) => {
      const a = await endpoint('ok');
      const b = await endpoint('ok');
      try {
        assert.deepEqual(await ask(client, { type: 'unwatch', id: 2 }), { type: 'ok', id: 2 });
        await ask(client, watchOf(a, 3));
        await waitFor(() => a.connections >= 2, { timeoutMs: 10_000, what: 'checks of a' });
        assert.deepEqual(await ask(client, watchOf(b, 4)), { type: 'ok', id: 4 });
        const askedA = a.connections;
        await waitFor(() => b.connections >= 4, { timeoutMs: 10_000, what: 'checks of b' });
        assert.equal(a.connections, askedA, 'the replaced watch asks no more');
        assert.deepEqual(await ask(client, { type: 'unwatch', id: 5 }), { type: 'ok', id: 5 });
        const askedB = b.connections;
        await clock.after(5);
        assert.equal(b.connections, askedB, 'no check after unwatch');
        assert.equal(client.messages.filter((m) => m.type === 'watch-miss').length, 0);
      } finally {
        await a.close();
        await b.close();
      }
    }));

  test('a detach, a takeover and the gateway\'s exit end the watch (a running check is dropped, no watch-miss)', () =>
    withWatchingShim(async ({ client, runDir, clock, handle }) => {
      const ep = await endpoint('ok');
      try {
        const sock = join(runDir, 'shim.sock');
        // detach: the client goes
        await ask(client, watchOf(ep, 2));
        await waitFor(() => ep.connections >= 1, { timeoutMs: 10_000, what: 'a check' });
        client.socket.destroy();
        await client.closed;
        let asked = ep.connections;
        await clock.after(5);
        // one check may have started before the shim read the close
        assert.ok(ep.connections <= asked + 1, `no check after the client left (${asked} then ${ep.connections})`);
        asked = ep.connections;
        const b = await rawClient(sock);
        b.send({ type: 'attach', id: 1, protocol: 1 });
        await b.next((m) => m.type === 'hello');

        // takeover: the replaced client's watch ends
        await ask(b, watchOf(ep, 2));
        await waitFor(() => ep.connections >= asked + 1, { timeoutMs: 10_000, what: 'a check' });
        const c = await rawClient(sock);
        c.send({ type: 'attach', id: 1, protocol: 1, takeover: true });
        await c.next((m) => m.type === 'hello');
        assert.equal((await b.next((m) => m.code === 'replaced')).type, 'error');
        asked = ep.connections;
        await clock.after(5);
        assert.equal(ep.connections, asked, 'no check after the takeover');
        assert.equal([...b.messages, ...c.messages].filter((m) => m.type === 'watch-miss').length, 0);

        // the gateway's exit, with a check running (a server that never answers)
        ep.mode = 'hang';
        await ask(c, watchOf(ep, 2, { timeoutMs: 60_000 }));
        await waitFor(() => ep.open.size === 1, { timeoutMs: 10_000, what: 'a running check' });
        process.kill(handle.gateway!.pid, 'SIGKILL');
        await waitFor(() => !isAlive(handle.gateway!.pid), { timeoutMs: 5000, what: 'the gateway to die' });
        // answered after the shim read its SIGCHLD (polled first in its loop); the gateway's
        // child holds its pipes, so the exit message is 250 ms away (the drain grace)
        await ask(c, { type: 'status', id: 3 });
        for (const socket of ep.open) socket.destroy(); // the running check ends: it must not be reported
        const exit = await c.next((m) => m.type === 'exit');
        assert.equal(exit.signal, 'SIGKILL');
        assert.deepEqual(c.messages.filter((m) => m.type === 'watch-miss' || m.type === 'exit').map((m) => m.type === 'exit' ? 'exit' : m.error), ['exit'], 'no watch-miss for a gateway that exited');
        await waitFor(() => ep.open.size === 0, { timeoutMs: 5000, what: 'the running check dropped' });
        b.socket.destroy();
        c.socket.destroy();
      } finally {
        await ep.close();
      }
    }));

  test('the shim holds no more descriptors after 50 checks than before', () =>
    withWatchingShim(async ({ client, shimPid }) => {
      const ep = await endpoint('ok');
      try {
        const baseline = fdCount(shimPid);
        await ask(client, watchOf(ep, 2));
        await waitFor(() => ep.connections >= 50, { timeoutMs: 30_000, what: '50 checks' });
        await ask(client, { type: 'unwatch', id: 3 });
        assert.equal(fdCount(shimPid), baseline);
        ep.mode = '503';
        await ask(client, watchOf(ep, 4));
        await miss(client, 0);
        assert.equal(fdCount(shimPid), baseline, 'nor after a miss');
      } finally {
        await ep.close();
      }
    }));

  test('bad watch fields are refused as zod words them (id echoed), unknown keys ignored, and only the attached client may watch', () =>
    withWatchingShim(async ({ client, runDir }) => {
      const good = { type: 'watch', port: 9, path: '/readyz', intervalMs: 60_000, timeoutMs: 100 };
      const lines = [
        { ...good, port: 0, path: '', intervalMs: 99, timeoutMs: 9 },
        { ...good, port: 65536, path: 'x'.repeat(300), intervalMs: 86_400_001, timeoutMs: 86_400_001 },
        { ...good, port: 1.5, path: '/a b', intervalMs: '100', timeoutMs: null },
        { ...good, path: `/${'a'.repeat(256)}` },
        { ...good, path: '/é' },
        { ...good, path: '/\u0000' },
        { ...good, path: '/\u007f' },
        { ...good, path: `/${'\u{1F600}'.repeat(128)}` },
        { ...good, path: 7 },
        { ...good, path: new Array(300).fill(1) },
        { ...good, port: 2 ** 60 },
        { ...good, port: -5 },
        { type: 'watch', id: undefined },
        { type: 'watch', id: 1.5 },
        { type: 'unwatch', id: undefined },
        { type: 'unwatch', id: -1 },
        { type: 'unwatch', id: 'x' },
        { type: 'watchx' },
      ].map((m, n) => JSON.stringify({ id: 100 + n, ...m }));
      lines.push(`{"type":"watch","id":200,"port":1e400,"path":"/","intervalMs":-1e400,"timeoutMs":100}`);
      for (const line of lines) {
        const json = JSON.parse(line) as { id?: unknown };
        const parsed = clientRequestSchema.safeParse(json);
        assert.ok(!parsed.success, line);
        const id = typeof json.id === 'number' && Number.isInteger(json.id) && json.id >= 0 ? json.id : null;
        const from = client.messages.length;
        client.send(`${line}\n`);
        const answer = await client.next((m) => m.type === 'error', from);
        assert.deepEqual(answer, { type: 'error', id, code: 'bad-message', message: describeIssues(parsed.error) }, line.slice(0, 120));
      }
      assert.deepEqual(await ask(client, { ...good, id: 300, port: 1, extra: { any: 'thing' } }), { type: 'ok', id: 300 }, 'unknown keys are ignored');
      assert.deepEqual(await ask(client, { type: 'unwatch', id: 301 }), { type: 'ok', id: 301 });

      const stranger = await rawClient(join(runDir, 'shim.sock'));
      for (const request of [{ ...good, id: 5 }, { type: 'unwatch', id: 6 }]) {
        stranger.send(request);
        assert.equal((await stranger.next((m) => m.id === request.id)).code, 'not-attached');
      }
      stranger.socket.destroy();
    }));

  test('through ShimHandle: canWatch, watch, and the watch-miss event', () =>
    withShimAgent({}, async ({ agent, tracker }) => {
      const handle = await launchShim(shimSpecFor(agent), native.deps);
      tracker.add(handle.shim.pid, handle.gateway?.pid);
      const ep = await endpoint('ok');
      try {
        assert.equal(handle.canWatch, true);
        const misses: unknown[] = [];
        handle.on('watch-miss', (m) => misses.push(m));
        await handle.watch({ port: ep.port, path: '/readyz', intervalMs: 100, timeoutMs: 1000 });
        await waitFor(() => ep.requests.length >= 2, { timeoutMs: 10_000, what: 'checks' });
        ep.mode = '503';
        await waitFor(() => misses.length > 0, { timeoutMs: 10_000, what: 'the miss' });
        assert.deepEqual(misses.map((m) => ({ ...(m as object), at: 0 })), [{ at: 0, status: 503, error: 'answered 503' }]);
        process.kill(handle.gateway!.pid, 'SIGKILL');
        assert.equal((await handle.exited).kind, 'exited');
        await handle.close();
      } finally {
        await ep.close();
      }
    }));
});

describe('node shim: watch', { skip: node.skip }, () => {
  test('the Node shim names no feature (fleetd probes itself there)', () =>
    withShimAgent({}, async ({ agent, tracker }) => {
      const handle = await launchShim(shimSpecFor(agent), node.deps);
      tracker.add(handle.shim.pid, handle.gateway?.pid);
      assert.equal(handle.canWatch, false);
      process.kill(handle.gateway!.pid, 'SIGKILL');
      assert.equal((await handle.exited).kind, 'exited');
      await handle.close();
    }));
});
