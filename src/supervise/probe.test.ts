import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import getPort from 'get-port';
import { createServer as createTcpServer } from 'node:net';
import { createProbe, probeGateway, type StartupAnswer } from './probe.js';
import { createStartupProbe } from './startup-probe.js';
import { MAX_BODY_BYTES, parseAnswer, rawHttpGet } from './http-get.js';
import { waitFor } from '../util/wait-for.js';
import { makeFakeAgent, PidTracker, spawnDetachedFake } from '../../test/support/testkit.js';

async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; port: number }> {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

describe('probe', () => {
  test('live and ready from /healthz and /readyz; the failing list when not ready', async () => {
    let ready = true;
    const { server, port } = await serve((req, res) => {
      if (req.url === '/healthz') return void res.writeHead(200).end('{"ok":true,"status":"live"}');
      if (req.url === '/readyz') return void res.writeHead(ready ? 200 : 503).end(JSON.stringify({ ready, failing: ready ? [] : ['telegram'] }));
      res.writeHead(404).end();
    });
    try {
      const absent = { state: 'absent', detail: '/startupz answered 404 (this gateway has no startup probe)' };
      assert.deepEqual(await probeGateway(port, 1000), { live: true, ready: true, startup: { state: 'started', detail: '/readyz: ready (startup complete, not draining)' } });
      ready = false;
      assert.deepEqual(await probeGateway(port, 1000), { live: true, ready: false, failing: ['telegram'], startup: absent });
    } finally {
      server.close();
    }
  });

  test('a server that accepts but never answers is not live (timeout)', async () => {
    const { server, port } = await serve(() => undefined);
    try {
      const result = await probeGateway(port, 150);
      assert.equal(result.live, false);
      assert.equal(result.ready, null);
      assert.equal(result.error, 'no answer within 150 ms');
      assert.deepEqual(result.startup, { state: 'no-answer', detail: '/startupz: no answer within 150 ms' });
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  test('nothing listening: not live, refused, with the connection error', async () => {
    const port = await getPort({ host: '127.0.0.1' });
    const result = await probeGateway(port, 1000);
    assert.deepEqual(result, { live: false, ready: null, error: 'ECONNREFUSED', refused: true, startup: { state: 'no-answer', detail: '/startupz: ECONNREFUSED' } });
  });

  test('the HTTP client is injectable; a 500 is not live', async () => {
    const urls: string[] = [];
    const probe = createProbe(async (url) => {
      urls.push(url);
      return { status: url.endsWith('/healthz') ? 500 : 503, body: 'not json' };
    });
    assert.deepEqual(await probe(1234, 100), {
      live: false,
      ready: false,
      failing: ['unknown'],
      error: '/healthz answered 500',
      startup: { state: 'starting', detail: '/startupz: starting' },
    });
    assert.deepEqual(urls.sort(), ['http://127.0.0.1:1234/healthz', 'http://127.0.0.1:1234/readyz', 'http://127.0.0.1:1234/startupz']);
  });

  test('a ready gateway is asked /readyz only (ready implies live, started, not draining)', async () => {
    const urls: string[] = [];
    const probe = createProbe(async (url) => {
      urls.push(url);
      return { status: 200, body: url.endsWith('/readyz') ? '{"ready":true,"failing":[]}' : '{"ok":true}' };
    });
    assert.deepEqual(await probe(1234, 100), { live: true, ready: true, startup: { state: 'started', detail: '/readyz: ready (startup complete, not draining)' } });
    assert.deepEqual(urls, ['http://127.0.0.1:1234/readyz']);
  });

  test('a gateway that is not ready is asked /healthz and /startupz after /readyz, to say why (draining, starting, absent)', async () => {
    for (const [readyStatus, startupStatus, startupBody, expected] of [
      [503, 503, '{"status":"draining"}', { state: 'draining', detail: '/startupz: draining' }],
      [503, 200, '{"status":"started"}', { state: 'started', detail: '/startupz: started' }],
      [404, 404, 'Not Found', { state: 'absent', detail: '/startupz answered 404 (this gateway has no startup probe)' }],
    ] as const) {
      const urls: string[] = [];
      const probe = createProbe(async (url) => {
        urls.push(url);
        if (url.endsWith('/startupz')) return { status: startupStatus, body: startupBody };
        if (url.endsWith('/readyz')) return { status: readyStatus, body: '{"ready":false,"failing":["channel:telegram"]}' };
        return { status: 200, body: '{"ok":true}' };
      });
      const result = await probe(1234, 100);
      assert.equal(result.live, true);
      assert.deepEqual(result.startup, expected);
      assert.equal(result.ready, readyStatus === 503 ? false : null);
      assert.deepEqual([urls[0], urls.slice(1).sort()], ['http://127.0.0.1:1234/readyz', ['http://127.0.0.1:1234/healthz', 'http://127.0.0.1:1234/startupz']]);
    }
  });

  test('/readyz answering 200 while /healthz would not is judged by /readyz (it answered: live)', async () => {
    const probe = createProbe(async (url) => (url.endsWith('/readyz') ? { status: 200, body: '{"ready":true,"failing":[]}' } : { status: 500, body: 'no' }));
    assert.deepEqual(await probe(1234, 100), { live: true, ready: true, startup: { state: 'started', detail: '/readyz: ready (startup complete, not draining)' } });
  });

  test('a refused /readyz ends the round: nothing listens, so /healthz and /startupz are not asked', async () => {
    const urls: string[] = [];
    const probe = createProbe(async (url) => {
      urls.push(url);
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    });
    assert.deepEqual(await probe(1234, 100), { live: false, ready: null, error: 'ECONNREFUSED', refused: true, startup: { state: 'no-answer', detail: '/startupz: ECONNREFUSED' } });
    assert.deepEqual(urls, ['http://127.0.0.1:1234/readyz']);
  });

  test('a gateway that stops answering after /readyz: the one timeout bounds the round, not live', async () => {
    const probe = createProbe(
      (url, init) =>
        new Promise((resolve, reject) => {
          if (url.endsWith('/readyz')) return resolve({ status: 503, body: '{"ready":false,"failing":["db"]}' });
          init.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
        }),
    );
    const result = await probe(1234, 50);
    assert.deepEqual(result, { live: false, ready: false, failing: ['db'], error: 'no answer within 50 ms', startup: { state: 'no-answer', detail: '/startupz: no answer within 50 ms' } });
  });

  test('a gateway that does not answer: not live, refused, and /startupz says so', async () => {
    const port = await getPort({ host: '127.0.0.1' });
    const result = await probeGateway(port, 1000);
    assert.deepEqual(result, { live: false, ready: null, error: 'ECONNREFUSED', refused: true, startup: { state: 'no-answer', detail: '/startupz: ECONNREFUSED' } });
  });

  test('/startupz as OpenClaw documents it: 503 starting (with pendingReason) or draining, 200 started', async () => {
    const answers: Array<[number, string, StartupAnswer]> = [
      [503, '{"ok":false,"status":"starting","pendingReason":"plugins"}', { state: 'starting', detail: '/startupz: starting (plugins)' }],
      [503, '{"ok":false,"status":"draining"}', { state: 'draining', detail: '/startupz: draining' }],
      [200, '{"ok":true,"status":"started","version":"2026.9.6"}', { state: 'started', detail: '/startupz: started' }],
      // what OpenClaw tells a local caller: the uptime, from 0 again after an in-process restart
      [200, '{"ok":true,"status":"started","version":"2026.9.6","uptimeMs":6520}', { state: 'started', detail: '/startupz: started', uptimeMs: 6520 }],
      [503, '{"ok":false,"status":"starting","uptimeMs":-1}', { state: 'starting', detail: '/startupz: starting' }],
      [200, 'null', { state: 'started', detail: '/startupz: started' }],
      [404, 'Not Found', { state: 'absent', detail: '/startupz answered 404 (this gateway has no startup probe)' }],
      [500, 'oops', { state: 'no-answer', detail: '/startupz answered 500' }],
    ];
    for (const [status, body, expected] of answers) {
      // not ready (a channel), so the round goes on to /startupz
      const probe = createProbe(async (url) => (url.endsWith('/startupz') ? { status, body } : url.endsWith('/readyz') ? { status: 503, body: '{"ready":false,"failing":["channel"]}' } : { status: 200, body: '{"ok":true}' }));
      assert.deepEqual((await probe(1, 100)).startup, expected, body);
    }
  });
});

test('createStartupProbe: the same reading with the uptime always present (null when not said or no answer)', async () => {
  const said = createStartupProbe(async () => ({ status: 200, body: '{"status":"started","uptimeMs":12}' }));
  assert.deepEqual(await said(1, 100), { state: 'started', detail: '/startupz: started', uptimeMs: 12 });
  const silent = createStartupProbe(async () => ({ status: 503, body: '{"status":"draining"}' }));
  assert.deepEqual(await silent(1, 100), { state: 'draining', detail: '/startupz: draining', uptimeMs: null });
  const refused = createStartupProbe(async () => {
    throw Object.assign(new Error('connect'), { code: 'ECONNREFUSED' });
  });
  assert.deepEqual(await refused(1, 100), { state: 'no-answer', detail: '/startupz: ECONNREFUSED', uptimeMs: null });
});

describe('probe against the fake gateway\'s /startupz (a real process)', () => {
  test('starting until startup settles, then started; never-started stays starting while /healthz is live', async () => {
    for (const mode of ['startup-ms:2500', 'never-started']) {
      const agent = await makeFakeAgent({ mode });
      const tracker = new PidTracker();
      try {
        await spawnDetachedFake(agent, tracker);
        const first = await probeGateway(agent.port, 1000);
        assert.equal(first.live, true, mode);
        assert.equal(first.startup?.state, 'starting', mode);
        assert.match(first.startup!.detail, /^\/startupz: starting \(fake sidecars\)$/);
        if (mode === 'never-started') continue;
        const later = await waitFor(async () => {
          const r = await probeGateway(agent.port, 1000);
          return r.startup?.state === 'started' ? r : undefined;
        }, { timeoutMs: 10_000, what: 'started' });
        assert.equal(later.live, true);
      } finally {
        tracker.killAll();
        await agent.cleanup();
      }
    }
  });
});

describe('the probes\' HTTP client (node:net)', () => {
  test('the default client reads chunked answers, close-delimited ones, and keeps at most MAX_BODY_BYTES of a body', async () => {
    const big = 'x'.repeat(MAX_BODY_BYTES + 5000);
    const { server, port } = await serve((req, res) => {
      if (req.url === '/healthz') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"ok":');
        setImmediate(() => res.end('true}')); // two writes: chunked
        return;
      }
      if (req.url === '/readyz') return void res.writeHead(503).end(JSON.stringify({ ready: false, failing: ['discord', 'slack'] }));
      if (req.url === '/big') return void res.writeHead(200).end(big);
      res.writeHead(404).end();
    });
    try {
      const signal = new AbortController().signal;
      assert.deepEqual(await rawHttpGet(`http://127.0.0.1:${port}/healthz`, { signal }), { status: 200, body: '{"ok":true}' });
      assert.deepEqual(await probeGateway(port, 1000), {
        live: true,
        ready: false,
        failing: ['discord', 'slack'],
        startup: { state: 'absent', detail: '/startupz answered 404 (this gateway has no startup probe)' },
      });
      const answer = await rawHttpGet(`http://127.0.0.1:${port}/big`, { signal });
      assert.equal(answer.status, 200);
      assert.equal(answer.body.length, MAX_BODY_BYTES);
    } finally {
      server.close();
    }
  });

  test('a listener that hangs up without answering, or answers garbage, is not live, with the reason', async () => {
    let reply = '';
    const server = createTcpServer((socket) => {
      socket.once('data', () => socket.end(reply));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    try {
      assert.deepEqual(await probeGateway(port, 1000), {
        live: false,
        ready: null,
        error: 'the connection closed without an answer',
        startup: { state: 'no-answer', detail: '/startupz: the connection closed without an answer' },
      });
      reply = 'SSH-2.0-OpenSSH_9.2\r\n';
      const result = await probeGateway(port, 1000);
      assert.equal(result.live, false);
      assert.match(result.error ?? '', /malformed HTTP answer/);
    } finally {
      server.close();
    }
  });

  test('parseAnswer: status line, chunk extensions, a truncated chunk', () => {
    const answer = parseAnswer(Buffer.from('HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\n{"a"\r\n3\r\n:1}\r\n0\r\n\r\n'));
    assert.deepEqual(answer, { status: 503, body: '{"a":1}' });
    assert.deepEqual(parseAnswer(Buffer.from('HTTP/1.0 200 OK\r\n\r\nhello')), { status: 200, body: 'hello' });
    assert.deepEqual(parseAnswer(Buffer.from('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\na\r\nhel')), { status: 200, body: 'hel' });
    assert.throws(() => parseAnswer(Buffer.from('HTTP/2 200\r\n\r\n')), /malformed HTTP status line/);
  });
});
