// The address book of an agent: only the agents it may call, their loopback URL, hooks
// token, description and mailbox; its inbox; no token in the Markdown.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { manifestSchema, type Manifest } from '../manifest/schema.js';
import { buildAddressBook, renderAddressBookMarkdown } from './address-book.js';
import { federationGraph } from './federation.js';
import type { RegistryFile } from './types.js';

function manifest(agents: Record<string, unknown>): Manifest {
  const parsed = manifestSchema.parse({ version: 1, fleets: { acme: { agents } } });
  return { ...parsed, manifestPath: '/m', stateDir: '/s', socket: '/s/sock', runtimesDir: '/s/r' };
}

const m = manifest({
  korax: { calls: ['acme/goreos', 'acme/medico'] },
  goreos: { calls: ['acme/korax'], description: 'the architect' },
  medico: { enabled: false },
  other: {},
});
const reg: RegistryFile = {
  version: 1,
  agents: Object.fromEntries(
    ['korax', 'goreos', 'medico', 'other'].map((agent, i) => [
      `acme/${agent}`,
      { fleet: 'acme', agent, source: 'manifest' as const, block: i, port: 20000 + i * 100, token: String(i).repeat(64), desired: 'running' as const, createdAt: 'x', hooksToken: `${'h'.repeat(63)}${i}`.replace(/h/g, 'c') },
    ]),
  ),
};
const mailboxDir = (name: string) => `/s/federation/comms/${name}`;

test('a caller\'s book lists exactly its callees with URL, hooks token, description, state and mailbox', () => {
  const { book, missing } = buildAddressBook({ graph: federationGraph(m), registry: reg, address: 'acme/korax', mailboxDir });
  assert.deepEqual(missing, []);
  assert.deepEqual(book.agents.map((a) => a.address), ['acme/goreos', 'acme/medico']);
  assert.deepEqual(book.agents[0], {
    address: 'acme/goreos',
    description: 'the architect',
    enabled: true,
    url: 'http://127.0.0.1:20100',
    agentUrl: 'http://127.0.0.1:20100/hooks/agent',
    wakeUrl: 'http://127.0.0.1:20100/hooks/wake',
    token: reg.agents['acme/goreos']!.hooksToken,
    mailbox: '/s/federation/comms/acme.korax-to-acme.goreos',
  });
  assert.equal(book.agents[1]!.enabled, false);
  assert.deepEqual(book.inbox, [{ from: 'acme/goreos', mailbox: '/s/federation/comms/acme.goreos-to-acme.korax' }]);
  assert.deepEqual(book.depth.maxForwardDepth, 2);
  const md = renderAddressBookMarkdown(book);
  assert.match(md, /\*\*acme\/goreos\*\*: the architect/);
  assert.match(md, /acme\/medico\*\* \(disabled now: use its mailbox\)/);
  for (const entry of Object.values(reg.agents)) {
    assert.ok(!md.includes(entry.hooksToken!) && !md.includes(entry.token), 'no token in the Markdown');
  }
});

test('a callee without a hooks token yet is left out and reported', () => {
  const partial = structuredClone(reg);
  delete partial.agents['acme/medico']!.hooksToken;
  const { book, missing } = buildAddressBook({ graph: federationGraph(m), registry: partial, address: 'acme/korax', mailboxDir });
  assert.deepEqual(book.agents.map((a) => a.address), ['acme/goreos']);
  assert.deepEqual(missing, ['acme/medico']);
});
