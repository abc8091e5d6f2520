// The federation as data and the openclaw.json keys it gives (pure): graph, hooks block,
// memory.search.extraPaths, what desiredAgents carries, and which applied hashes change.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ownEntry } from '../manifest/ids.js';
import { manifestSchema, type Manifest } from '../manifest/schema.js';
import { desiredAgents } from './desired.js';
import { applyFederation, federationGraph, hooksBlock } from './federation.js';
import { federationSecrets } from './federation-secrets.js';
import { buildGatewayConfig } from './gateway-config.js';
import { appliedHash, changedParts } from './hash.js';
import type { RegistryFile } from './types.js';

function manifest(input: Record<string, unknown>): Manifest {
  const parsed = manifestSchema.parse({ version: 1, ...input });
  return { ...parsed, manifestPath: '/m/fleets.json5', stateDir: '/state', socket: '/state/fleetd.sock', runtimesDir: '/state/runtimes' };
}

const hub = (extraCalls: string[] = []) =>
  manifest({
    knowledge: { koda: '/srv/koda', docs: '/srv/docs' },
    fleets: {
      acme: {
        agents: {
          korax: { calls: ['acme/goreos', ...extraCalls], knowledge: ['koda', 'docs'], description: 'talks to people' },
          goreos: { calls: ['acme/korax'], knowledge: ['koda'] },
          medico: { knowledge: ['docs'] },
          plain: {},
        },
      },
    },
  });

function registry(m: Manifest, hooks: Record<string, string>): RegistryFile {
  const reg: RegistryFile = { version: 1, agents: {} };
  Object.keys(m.fleets.acme!.agents).forEach((agent, i) => {
    const address = `acme/${agent}`;
    reg.agents[address] = { fleet: 'acme', agent, source: 'manifest', block: i, port: 20000 + i * 100, token: String(i).repeat(64), desired: 'running', createdAt: 'x', ...(hooks[address] ? { hooksToken: hooks[address] } : {}) };
  });
  return reg;
}

test('the graph: calls, callers, knowledge folders, one edge per call with its mailbox', () => {
  const g = federationGraph(hub(['acme/medico']));
  assert.deepEqual(g.edges, [
    { from: 'acme/goreos', to: 'acme/korax', mailbox: 'acme.goreos-to-acme.korax' },
    { from: 'acme/korax', to: 'acme/goreos', mailbox: 'acme.korax-to-acme.goreos' },
    { from: 'acme/korax', to: 'acme/medico', mailbox: 'acme.korax-to-acme.medico' },
  ]);
  assert.deepEqual(g.nodes['acme/medico']!.callers, ['acme/korax']);
  assert.deepEqual(g.nodes['acme/korax']!.knowledge, [{ name: 'koda', folder: '/srv/koda' }, { name: 'docs', folder: '/srv/docs' }]);
  assert.deepEqual(g.nodes['acme/plain'], { address: 'acme/plain', enabled: true, calls: [], callers: [], knowledge: [] });
});

test('a called agent gets the managed hooks block over the manifest\'s other hooks keys; knowledge is appended to its own extraPaths', () => {
  const config = { hooks: { mappings: [{ match: { path: 'x' } }] }, memory: { search: { extraPaths: ['/mine', { path: '/srv/koda', pattern: '*.md' }] } } };
  const out = applyFederation(config, { callable: true, callers: ['acme/korax'], hooksToken: 'h'.repeat(64), knowledgeFolders: ['/srv/koda', '/srv/docs'] });
  assert.deepEqual(out, {
    hooks: { mappings: [{ match: { path: 'x' } }], ...hooksBlock('h'.repeat(64)) },
    memory: { search: { extraPaths: ['/mine', { path: '/srv/koda', pattern: '*.md' }, '/srv/docs'] } },
  });
  assert.deepEqual(hooksBlock('t'), { enabled: true, token: 't', path: '/hooks', allowRequestSessionKey: false, defaultSessionKey: 'hook:fleetd', allowedSessionKeyPrefixes: ['hook:'] });
  assert.deepEqual(config.memory.search.extraPaths.length, 2, 'the input is not mutated');
  // no token yet (nothing made one): hooks are left off rather than enabled without a token
  assert.deepEqual(applyFederation({}, { callable: true, callers: ['a/b'], knowledgeFolders: [] }), {});
  // the registry token of an agent made in this reconcile is used when desired carries none
  assert.equal((applyFederation({}, { callable: true, callers: ['a/b'], knowledgeFolders: [] }, 'e'.repeat(64)).hooks as { token: string }).token, 'e'.repeat(64));
});

test('desiredAgents carries each agent\'s federation; a caller gets no hooks, an agent outside the federation nothing', () => {
  const m = hub();
  const reg = registry(m, { 'acme/korax': 'k'.repeat(64), 'acme/goreos': 'g'.repeat(64) });
  const byAddress = Object.fromEntries(desiredAgents(m, reg).map((d) => [d.address, d.federation]));
  assert.deepEqual(byAddress['acme/goreos'], { callable: true, callers: ['acme/korax'], hooksToken: 'g'.repeat(64), knowledgeFolders: ['/srv/koda'] });
  assert.deepEqual(byAddress['acme/medico'], { callable: false, callers: [], knowledgeFolders: ['/srv/docs'] });
  assert.equal(byAddress['acme/plain'], undefined);
});

test('adding a call changes the callee\'s applied hash (openclaw.json) and not the caller\'s', () => {
  const hashes = (m: Manifest, reg: RegistryFile) =>
    Object.fromEntries(
      desiredAgents(m, reg).map((d) => {
        const entry = reg.agents[d.address]!;
        const config = buildGatewayConfig({ config: d.config, home: `/h/${d.agent}`, port: entry.port, token: entry.token, blockSize: 100, ...(d.federation ? { federation: d.federation } : {}) });
        return [d.address, appliedHash({ config, env: d.env, launch: d.launch })];
      }),
    );
  const before = hub();
  const after = hub(['acme/medico']);
  const tokens = { 'acme/korax': 'k'.repeat(64), 'acme/goreos': 'g'.repeat(64) };
  const h1 = hashes(before, registry(before, tokens));
  const h2 = hashes(after, registry(after, { ...tokens, 'acme/medico': 'm'.repeat(64) }));
  assert.deepEqual(changedParts(h1['acme/medico']!, h2['acme/medico']!), ['config']);
  assert.equal(h2['acme/korax'], h1['acme/korax']);
  assert.equal(h2['acme/goreos'], h1['acme/goreos']);
});

test('federationSecrets: own hooks token and the callees\' ones, never a gateway token', () => {
  const m = hub(['acme/medico']);
  const reg = registry(m, { 'acme/korax': 'k'.repeat(64), 'acme/goreos': 'g'.repeat(64), 'acme/medico': 'm'.repeat(64) });
  assert.deepEqual(federationSecrets((a) => ownEntry(reg.agents, a), m, 'acme/korax').sort(), ['g'.repeat(64), 'k'.repeat(64), 'm'.repeat(64)]);
  assert.deepEqual(federationSecrets((a) => ownEntry(reg.agents, a), m, 'acme/medico'), ['m'.repeat(64)]);
  assert.deepEqual(federationSecrets((a) => ownEntry(reg.agents, a), m, 'acme/plain'), []);
  // an agent the manifest does not declare (added with fleetctl) has its own token alone
  reg.agents['acme/added'] = { ...reg.agents['acme/plain']!, agent: 'added', block: 9, port: 20900, hooksToken: 'a'.repeat(64) };
  assert.deepEqual(federationSecrets((a) => ownEntry(reg.agents, a), m, 'acme/added'), ['a'.repeat(64)]);
  assert.deepEqual(federationSecrets((a) => ownEntry(reg.agents, a), m, 'other/none'), []);
});
