import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { FleetError } from '../errors.js';
import type { DesiredAgent, RegistryFile } from '../plan/types.js';
import { allocateBlock } from './allocate-block.js';
import { ensureEntry } from './ensure-entry.js';
import { isPortFree } from './port-probe.js';

const ports = { base: 20000, blockSize: 100, max: 65000 };
const alwaysFree = async () => true;
const now = () => new Date('2026-01-01T00:00:00Z');

function desired(address: string): DesiredAgent {
  const [fleet, agent] = address.split('/') as [string, string];
  return { address: address as DesiredAgent['address'], fleet, agent, source: 'manifest', enabled: true, config: {}, env: {}, launch: { kind: 'command', command: ['x'] } };
}

async function listen(host: string, port = 0): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, exclusive: true }, () => resolve());
  });
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  return { server, port: address.port };
}

async function close(server: Server): Promise<void> {
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

async function ipv6Available(): Promise<boolean> {
  try {
    const { server } = await listen('::1');
    await close(server);
    return true;
  } catch {
    return false;
  }
}

test('agents get the lowest free blocks; freeing a block gives it to the next new agent', async () => {
  const reg: RegistryFile = { version: 1, agents: {} };
  for (const address of ['acme/a', 'acme/b', 'acme/c']) await ensureEntry(reg, desired(address), { ports, now, isPortFree: alwaysFree });
  assert.deepEqual(
    Object.values(reg.agents).map((e) => [e.agent, e.block, e.port]),
    [['a', 0, 20000], ['b', 1, 20100], ['c', 2, 20200]],
  );
  delete reg.agents['acme/b'];
  const d = await ensureEntry(reg, desired('acme/d'), { ports, now, isPortFree: alwaysFree });
  assert.equal(d.created, true);
  assert.equal(d.entry.block, 1);
  assert.equal(d.entry.port, 20100);
  const e = await ensureEntry(reg, desired('acme/e'), { ports, now, isPortFree: alwaysFree });
  assert.equal(e.entry.block, 3);
});

test('a taken-blocks set kept by the caller is used instead of the registry, and gets each new block', async () => {
  // the plan's draft holds no entries: the set alone says which blocks are taken
  const taken = new Set([0, 2]);
  const draft: RegistryFile = { version: 1, agents: {} };
  const a = await ensureEntry(draft, desired('acme/a'), { ports, now, isPortFree: alwaysFree, taken });
  assert.equal(a.entry.block, 1);
  const b = await ensureEntry({ version: 1, agents: {} }, desired('acme/b'), { ports, now, isPortFree: alwaysFree, taken });
  assert.equal(b.entry.block, 3, 'the block given to acme/a is in the set now');
  assert.deepEqual([...taken].sort((x, y) => x - y), [0, 1, 2, 3]);
  assert.deepEqual(Object.keys(draft.agents), ['acme/a']);
});

test('blocks and tokens are stable whatever order agents are ensured in', async () => {
  const reg: RegistryFile = { version: 1, agents: {} };
  const order = ['acme/a', 'acme/b', 'zed/c', 'acme/d'];
  for (const address of order) await ensureEntry(reg, desired(address), { ports, now, isPortFree: alwaysFree });
  const before = structuredClone(reg);
  for (const address of [...order].reverse()) {
    const result = await ensureEntry(reg, desired(address), { ports, now, isPortFree: async () => false });
    assert.equal(result.created, false);
  }
  assert.deepEqual(reg, before);
  const tokens = new Set(Object.values(reg.agents).map((e) => e.token));
  assert.equal(tokens.size, order.length);
});

test('a block whose gateway port is busy on 127.0.0.1 is skipped and reported', async () => {
  const { server, port } = await listen('127.0.0.1');
  try {
    assert.equal(await isPortFree(port), false);
    const result = await allocateBlock({ address: 'acme/a', taken: new Set(), ports: { base: port, blockSize: 10, max: port + 99 } });
    assert.deepEqual(result.skipped[0], { block: 0, port, reason: `port ${port} is already in use by another process` });
    assert.ok(result.block >= 1);
    assert.notEqual(result.port, port);
  } finally {
    await close(server);
  }
  // probing the same port twice after it is freed says "free" twice (no sticky cache)
  assert.equal(await isPortFree(port), true);
  assert.equal(await isPortFree(port), true);
});

test('a block whose gateway port is busy on ::1 only is skipped and reported', async (t) => {
  if (!(await ipv6Available())) {
    t.skip('no IPv6 loopback on this machine');
    return;
  }
  const { server, port } = await listen('::1');
  try {
    const v4 = await listen('127.0.0.1', port).catch(() => undefined);
    assert.ok(v4, 'the IPv4 side must be free for this test to mean anything');
    await close(v4.server);
    assert.equal(await isPortFree(port), false);
    const result = await allocateBlock({ address: 'acme/a', taken: new Set(), ports: { base: port, blockSize: 10, max: port + 99 } });
    assert.equal(result.skipped[0]?.block, 0);
    assert.equal(result.skipped[0]?.port, port);
    assert.ok(result.block >= 1);
  } finally {
    await close(server);
  }
});

test('ensureEntry reports skipped blocks and records the block it chose', async () => {
  const reg: RegistryFile = { version: 1, agents: {} };
  const busy = new Set([20000, 20100]);
  const result = await ensureEntry(reg, desired('acme/a'), { ports, now, isPortFree: async (p) => !busy.has(p) });
  assert.deepEqual(result.skipped.map((s) => s.block), [0, 1]);
  assert.equal(result.entry.block, 2);
  assert.equal(reg.agents['acme/a']?.port, 20200);
  // the skipped blocks stay free for later agents once their ports are free again
  const next = await ensureEntry(reg, desired('acme/b'), { ports, now, isPortFree: alwaysFree });
  assert.equal(next.entry.block, 0);
});

test('running out of blocks is PORTS_EXHAUSTED naming the agent and the next step', async () => {
  const small = { base: 20000, blockSize: 100, max: 20199 };
  const reg: RegistryFile = { version: 1, agents: {} };
  await ensureEntry(reg, desired('acme/a'), { ports: small, now, isPortFree: alwaysFree });
  await ensureEntry(reg, desired('acme/b'), { ports: small, now, isPortFree: alwaysFree });
  await assert.rejects(ensureEntry(reg, desired('acme/late'), { ports: small, now, isPortFree: alwaysFree }), (err: unknown) => {
    assert.ok(err instanceof FleetError);
    assert.equal(err.code, 'PORTS_EXHAUSTED');
    assert.match(err.message, /acme\/late/);
    assert.match(err.message, /raise ports\.max/i);
    assert.match(err.message, /remove agents/);
    return true;
  });
  assert.equal(Object.keys(reg.agents).length, 2);
  // every remaining port busy is exhaustion too, and says why
  await assert.rejects(allocateBlock({ address: 'acme/x', taken: new Set(), ports: small, isPortFree: async () => false }), (err: unknown) => {
    assert.ok(err instanceof FleetError);
    assert.equal(err.code, 'PORTS_EXHAUSTED');
    assert.match(err.message, /acme\/x/);
    assert.match(err.message, /2 skipped because their port was in use \(20000, 20100\)/);
    return true;
  });
});

test('an existing block that no longer fits below ports.max is an error, not a silent move', async () => {
  const reg: RegistryFile = { version: 1, agents: {} };
  for (const address of ['acme/a', 'acme/b']) await ensureEntry(reg, desired(address), { ports, now, isPortFree: alwaysFree });
  await assert.rejects(ensureEntry(reg, desired('acme/b'), { ports: { ...ports, max: 20099 }, now }), { code: 'PORTS_EXHAUSTED' });
  assert.equal(reg.agents['acme/b']?.block, 1);
});

test('a listener on a non-loopback wildcard also makes the port busy (a gateway could not take it either way)', async () => {
  const { server, port } = await listen('0.0.0.0');
  try {
    assert.equal(await isPortFree(port), false);
  } finally {
    await close(server);
  }
  assert.equal(await isPortFree(port), true);
});
