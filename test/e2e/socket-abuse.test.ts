// Nothing a client sends can crash fleetd or change what it did not validly ask for:
// malformed, oversized, unknown and wrongly typed requests each get a 4xx JSON error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { cleanup, fakeManifest, fakePids, startFleetd, status, stopFleetd, tempDir, waitAllDead } from './harness.js';
import { rawExchange } from '../support/raw-socket.js';

/** Sends one HTTP request over the socket; resolves with status and parsed body. */
function send(socket: string, method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, method, path, headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = text;
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Raw bytes to the socket; whatever comes back. */
const raw = rawExchange;

const CASES: Array<[string, string, string, string | Buffer | undefined]> = [
  ['unknown route', 'GET', '/v1/nope', undefined],
  ['unknown version prefix', 'GET', '/v2/agents', undefined],
  ['root', 'GET', '/', undefined],
  ['wrong method on agents', 'PUT', '/v1/agents', '{}'],
  ['wrong method on reload', 'GET', '/v1/reload', undefined],
  ['bad JSON', 'POST', '/v1/agents', '{"fleet":'],
  ['JSON array body', 'POST', '/v1/agents', '[]'],
  ['JSON string body', 'POST', '/v1/agents', '"acme/x"'],
  ['missing fields', 'POST', '/v1/agents', '{}'],
  ['fleet wrong type', 'POST', '/v1/agents', '{"fleet":1,"agent":"x"}'],
  ['agent uppercase', 'POST', '/v1/agents', '{"fleet":"acme","agent":"X"}'],
  ['agent traversal', 'POST', '/v1/agents', '{"fleet":"acme","agent":"../../etc"}'],
  ['fleet traversal', 'POST', '/v1/agents', '{"fleet":"..","agent":"x"}'],
  ['config not object', 'POST', '/v1/agents', '{"fleet":"acme","agent":"x","config":"yes"}'],
  ['env value number', 'POST', '/v1/agents', '{"fleet":"acme","agent":"x","env":{"A":1}}'],
  ['env bad name', 'POST', '/v1/agents', '{"fleet":"acme","agent":"x","env":{"A-B":"1"}}'],
  ['reserved env', 'POST', '/v1/agents', '{"fleet":"acme","agent":"x","env":{"HOME":"/"}}'],
  ['managed config key', 'POST', '/v1/agents', '{"fleet":"acme","agent":"x","config":{"gateway":{"auth":{"token":"a"}}}}'],
  ['unknown body key', 'POST', '/v1/agents', '{"fleet":"acme","agent":"x","evil":true}'],
  ['start not boolean', 'POST', '/v1/agents', '{"fleet":"acme","agent":"x","start":"yes"}'],
  ['proto pollution', 'POST', '/v1/agents', '{"fleet":"acme","agent":"x","config":{"__proto__":{"polluted":true}}}'],
  ['encoded traversal in path', 'GET', '/v1/agents/%2e%2e/%2e%2e/token', undefined],
  ['slash in encoded id', 'GET', '/v1/agents/acme%2Fx/alpha/token', undefined],
  ['bad percent encoding', 'GET', '/v1/agents/%E0%A4%A/alpha/token', undefined],
  ['dotdot segments', 'GET', '/v1/agents/../../etc/passwd', undefined],
  ['unknown agent token', 'GET', '/v1/agents/acme/ghost/token', undefined],
  ['unknown agent restart', 'POST', '/v1/agents/acme/ghost/restart', '{}'],
  ['unknown fleet restart', 'POST', '/v1/fleets/ghost/restart', '{}'],
  ['negative timeout', 'POST', '/v1/agents/acme/alpha/stop', '{"timeoutMs":-5}'],
  ['huge timeout', 'POST', '/v1/agents/acme/alpha/stop', '{"timeoutMs":1e12}'],
  ['timeout string', 'POST', '/v1/agents/acme/alpha/restart', '{"timeoutMs":"10"}'],
  ['dryRun string', 'POST', '/v1/reload', '{"dryRun":"yes"}'],
  ['purge string', 'DELETE', '/v1/agents/acme/alpha', '{"purge":"1"}'],
  ['logs negative lines', 'GET', '/v1/agents/acme/alpha/logs?lines=-1', undefined],
  ['logs huge lines', 'GET', '/v1/agents/acme/alpha/logs?lines=99999999999', undefined],
  ['logs bad follow', 'GET', '/v1/agents/acme/alpha/logs?follow=maybe', undefined],
  ['runtime bad version', 'POST', '/v1/runtimes', '{"version":"latest"}'],
  ['runtime shell injection', 'POST', '/v1/runtimes', '{"version":"1.2.3; rm -rf /"}'],
  ['body on GET status', 'GET', '/v1/agents', '{"x":1}'],
];

test('30+ malformed socket requests each get a 4xx JSON error and fleetd keeps serving, unchanged', async () => {
  const dir = await tempDir();
  const f = await startFleetd(dir, fakeManifest({ acme: { agents: { alpha: {} } } }), { waitRunning: 1 });
  const seen = await fakePids(f.stateDir, 'acme/alpha');
  try {
    const before = await status(f);
    for (const [name, method, path, body] of CASES) {
      const res = await send(f.socket, method, path, body).catch((err: Error) => ({ status: 0, body: err.message }));
      assert.ok(res.status >= 400 && res.status < 500, `${name}: expected 4xx, got ${res.status} ${JSON.stringify(res.body)}`);
      if (name === 'unknown route') assert.equal(res.status, 404);
      assert.equal(typeof res.body?.error?.code, 'string', `${name}: error body has a code`);
      assert.equal(typeof res.body?.error?.message, 'string', `${name}: error body has a message`);
    }
    // An oversized body is refused with 413 as soon as its length is known. (A client still
    // uploading when fleetd answers and closes may see EPIPE instead: that is fine too.)
    const declared = await raw(f.socket, `POST /v1/agents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${2 * 1024 * 1024}\r\n\r\n${'a'.repeat(1000)}`);
    assert.match(declared, /^HTTP\/1\.1 413 /, declared.slice(0, 200));
    const big = await send(f.socket, 'POST', '/v1/agents', Buffer.alloc(2 * 1024 * 1024, 'a')).catch((err: NodeJS.ErrnoException) => ({ status: 0, body: err.code }));
    assert.ok(big.status === 413 || big.body === 'EPIPE' || big.body === 'ECONNRESET', JSON.stringify(big));
    // an oversized body sent chunked (no content-length to refuse it up front)
    const chunked = await raw(f.socket, `POST /v1/agents HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n${'100000\r\n' + 'a'.repeat(0x100000) + '\r\n'}${'100000\r\n' + 'a'.repeat(0x100000) + '\r\n'}0\r\n\r\n`);
    assert.match(chunked, /^HTTP\/1\.1 413 /, chunked.slice(0, 200));
    const garbage = await raw(f.socket, 'THIS IS NOT HTTP\r\n\r\n');
    assert.match(garbage, /400/);
    const health = await send(f.socket, 'GET', '/v1/health');
    assert.equal(health.status, 200);
    const after = await status(f);
    assert.deepEqual(after.map((a) => [a.address, a.pid, a.state]), before.map((a) => [a.address, a.pid, a.state]));
    assert.ok(!('polluted' in {}), 'no prototype pollution');
    assert.equal(after.length, 1, 'no agent was added by a rejected request');
  } finally {
    await stopFleetd(f);
    await waitAllDead(seen);
    await cleanup(dir);
  }
});
