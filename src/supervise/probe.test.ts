import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import getPort from 'get-port';
import { createProbe, probeGateway } from './probe.js';

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
      assert.deepEqual(await probeGateway(port, 1000), { live: true, ready: true });
      ready = false;
      assert.deepEqual(await probeGateway(port, 1000), { live: true, ready: false, failing: ['telegram'] });
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
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  test('nothing listening: not live, with the connection error', async () => {
    const port = await getPort({ host: '127.0.0.1' });
    const result = await probeGateway(port, 1000);
    assert.deepEqual(result, { live: false, ready: null, error: 'ECONNREFUSED' });
  });

  test('the HTTP client is injectable; a 500 is not live', async () => {
    const urls: string[] = [];
    const probe = createProbe(async (url) => {
      urls.push(url);
      return { status: url.endsWith('/healthz') ? 500 : 503, body: 'not json' };
    });
    assert.deepEqual(await probe(1234, 100), { live: false, ready: false, failing: ['unknown'], error: '/healthz answered 500' });
    assert.deepEqual(urls.sort(), ['http://127.0.0.1:1234/healthz', 'http://127.0.0.1:1234/readyz']);
  });
});
