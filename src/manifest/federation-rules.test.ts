// Invalid federation references, one row each, asserting the exact located lines fleetd
// prints; and what stays valid (hooks keys on an agent nobody calls, a disabled callee).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import JSON5 from 'json5';
import { FleetError } from '../errors.js';
import { mailboxName } from './federation-rules.js';
import { parseManifest } from './load.js';

const F = '/srv/fleet/m.json5';

function manifest(fleets: unknown, extra: Record<string, unknown> = {}): string {
  return JSON5.stringify({ version: 1, knowledge: { koda: '/srv/koda', docs: '/srv/docs' }, fleets, ...extra });
}

// The problem lines of an invalid manifest, without the file prefix.
function problemsOf(text: string): string[] {
  try {
    parseManifest(text, F);
  } catch (err) {
    assert.ok(err instanceof FleetError);
    assert.equal(err.code, 'MANIFEST_INVALID');
    return (err.details as { problems: string[] }).problems.map((line) => line.slice(F.length));
  }
  assert.fail('expected MANIFEST_INVALID');
}

const hub = {
  acme: {
    agents: {
      korax: { calls: ['acme/goreos', 'acme/medico'], knowledge: ['koda', 'docs'] },
      goreos: { calls: ['acme/korax'], knowledge: ['koda'] },
      medico: { knowledge: ['docs'] },
    },
  },
};

describe('federation references', () => {
  test('the hub-and-spoke example of the issue is valid and keeps its references', () => {
    const m = parseManifest(manifest(hub), F);
    assert.deepEqual(m.fleets.acme!.agents.korax!.calls, ['acme/goreos', 'acme/medico']);
    assert.deepEqual(m.knowledge, { koda: '/srv/koda', docs: '/srv/docs' });
  });

  const rows: [string, unknown, string[], Record<string, unknown>?][] = [
    [
      'unknown agent, with a suggestion',
      { acme: { agents: { korax: { calls: ['acme/goreoss'] }, goreos: {} } } },
      [': fleets.acme.agents.korax.calls[0]: unknown agent "acme/goreoss": no such agent in the manifest (agents added with fleetctl cannot be called); did you mean "acme/goreos"?'],
    ],
    [
      'unknown agent in another fleet, listing the declared ones',
      { acme: { agents: { korax: { calls: ['zeta/x'] }, goreos: {} } } },
      [': fleets.acme.agents.korax.calls[0]: unknown agent "zeta/x": no such agent in the manifest (agents added with fleetctl cannot be called); declared agents: acme/goreos, acme/korax'],
    ],
    [
      'a bare agent id is not an address, with the fix',
      { acme: { agents: { korax: { calls: ['goreos'] }, goreos: {} } } },
      [': fleets.acme.agents.korax.calls[0]: expected an agent address "fleet/agent" (ids are 1-40 characters of a-z, 0-9 and "-", starting and ending with a letter or digit), found "goreos" (did you mean "acme/goreos"?)'],
    ],
    [
      'a call to itself',
      { acme: { agents: { korax: { calls: ['acme/korax'] } } } },
      [': fleets.acme.agents.korax.calls[0]: an agent cannot call itself, found "acme/korax"; remove it'],
    ],
    [
      'the same callee twice',
      { acme: { agents: { korax: { calls: ['acme/goreos', 'acme/goreos'] }, goreos: {} } } },
      [': fleets.acme.agents.korax.calls[1]: "acme/goreos" is listed twice (also at calls[0]); remove one'],
    ],
    [
      'unknown knowledge name, with a suggestion',
      { acme: { agents: { korax: { knowledge: ['kodaa'] } } } },
      [': fleets.acme.agents.korax.knowledge[0]: unknown knowledge name "kodaa"; did you mean "koda"?'],
    ],
    [
      'knowledge named twice',
      { acme: { agents: { korax: { knowledge: ['docs', 'docs'] } } } },
      [': fleets.acme.agents.korax.knowledge[1]: "docs" is listed twice (also at knowledge[0]); remove one'],
    ],
    [
      'a knowledge name that is not an id, and a folder with "~"',
      { acme: { agents: { korax: {} } } },
      [
        ': knowledge.Koda: knowledge names must be 1-40 characters of a-z, 0-9 and "-", starting and ending with a letter or digit, found "Koda"',
        ': knowledge.home: fleetd does not expand "~": write an absolute path or one relative to the manifest folder, found "~/notes"',
      ],
      { knowledge: { Koda: '/srv/koda', home: '~/notes' } },
    ],
    [
      'no knowledge map at all',
      { acme: { agents: { korax: { knowledge: ['koda'] } } } },
      [': fleets.acme.agents.korax.knowledge[0]: unknown knowledge name "koda"; the top-level "knowledge" map declares none; add it there as name: "/folder"'],
      { knowledge: {} },
    ],
    [
      'hooks keys fleetd manages, on the callee and on the layers above it',
      {
        acme: {
          defaults: { config: { hooks: { path: '/in' } } },
          agents: { korax: { calls: ['acme/goreos'] }, goreos: { config: { hooks: { token: 'mine', enabled: true, mappings: [] } } } },
        },
      },
      [
        ': fleets.acme.defaults.config.hooks.path: managed by fleetd for acme/goreos (called by acme/korax), remove it',
        ': fleets.acme.agents.goreos.config.hooks.enabled: managed by fleetd for acme/goreos (called by acme/korax), remove it',
        ': fleets.acme.agents.goreos.config.hooks.token: managed by fleetd for acme/goreos (called by acme/korax), remove it',
      ],
    ],
    [
      'top-level defaults reach every callee',
      { acme: { agents: { korax: { calls: ['acme/goreos'] }, goreos: {} } } },
      [': defaults.config.hooks.allowRequestSessionKey: managed by fleetd for acme/goreos (called by acme/korax), remove it'],
      { defaults: { config: { hooks: { allowRequestSessionKey: true } } } },
    ],
    [
      'wrong types are reported by the schema, once',
      { acme: { agents: { korax: { calls: 'acme/goreos', knowledge: [3] }, goreos: {} } } },
      [
        ': fleets.acme.agents.korax.calls: expected an array, found "acme/goreos"',
        ': fleets.acme.agents.korax.knowledge[0]: expected a string, found 3',
      ],
    ],
  ];
  for (const [name, fleets, expected, extra] of rows) {
    test(name, () => assert.deepEqual(problemsOf(manifest(fleets, extra)), expected));
  }

  test('two edges whose mailbox folders would have the same name are refused', () => {
    const fleets = { a: { agents: { 'p-to-b': { calls: ['c/d'] }, p: { calls: ['b-to-c/d'] } } }, c: { agents: { d: {} } }, 'b-to-c': { agents: { d: {} } } };
    assert.equal(mailboxName('a/p-to-b', 'c/d'), mailboxName('a/p', 'b-to-c/d'));
    assert.deepEqual(problemsOf(manifest(fleets)), [
      ': fleets.a.agents.p.calls[0]: the mailbox of a/p -> b-to-c/d would be named "a.p-to-b-to-c.d", like the one of a/p-to-b -> c/d; rename one of these agents',
    ]);
  });

  test('hooks keys stay the operator\'s on an agent nobody calls; a disabled agent may be called', () => {
    const fleets = {
      acme: { agents: { korax: { calls: ['acme/goreos'], config: { hooks: { enabled: true, token: 'x'.repeat(40) } } }, goreos: { enabled: false } } },
    };
    const m = parseManifest(manifest(fleets), F);
    assert.equal(m.fleets.acme!.agents.goreos!.enabled, false);
  });

  test('a description is at most 500 characters', () => {
    const long = 'x'.repeat(501);
    assert.deepEqual(problemsOf(manifest({ acme: { agents: { korax: { description: long } } } })), [
      ': fleets.acme.agents.korax.description: must be at most 500 characters, found "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx..."',
    ]);
  });
});
