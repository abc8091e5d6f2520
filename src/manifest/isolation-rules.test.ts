// The isolation keys of the manifest: accepted shapes, every invalid one reported on its
// own line with its path, and the resolution of one agent's settings.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { agentIsolationSpec, cgroupConfigOf } from '../isolation/agent-spec.js';
import { FleetError } from '../errors.js';
import { parseManifest } from './load.js';

const F = '/srv/fleet/m.json5';

function problemsOf(text: string): string[] {
  try {
    parseManifest(text, F);
  } catch (err) {
    assert.ok(err instanceof FleetError && err.code === 'MANIFEST_INVALID', String(err));
    return (err.details as { problems: string[] }).problems.map((line) => line.slice(F.length + 2));
  }
  assert.fail('expected MANIFEST_INVALID');
}

const VALID = `{
  version: 1,
  cgroup: { mode: "auto", root: "fleetd" },
  defaults: { limits: { memory: "2G", cpu: 2, pids: 1024 }, memory: { merge: true } },
  fleets: {
    acme: {
      user: "acme-gw",
      defaults: { limits: { memory: "1.5G" } },
      agents: {
        korax: { limits: { cpu: 1.5, pids: "max" } },
        vesna: { user: "vesna-gw", memory: { merge: false }, limits: { memory: 1073741824 } },
      },
    },
    ops: { agents: { watch: {} } },
  },
}`;

describe('isolation keys of the manifest', () => {
  test('accepted at defaults, fleet and agent level; agent wins key by key', () => {
    const m = parseManifest(VALID, F);
    assert.deepEqual(agentIsolationSpec(m, 'acme', 'korax'), {
      limits: { memoryBytes: 1610612736, memoryText: '1.5G', cpu: 1.5 },
      merge: true,
      user: { name: 'acme-gw', setAt: 'fleets.acme.user' },
    });
    assert.deepEqual(agentIsolationSpec(m, 'acme', 'vesna'), {
      limits: { memoryBytes: 1073741824, memoryText: '1G', cpu: 2, pids: 1024 },
      merge: false,
      user: { name: 'vesna-gw', setAt: 'fleets.acme.agents.vesna.user' },
    });
    assert.deepEqual(agentIsolationSpec(m, 'ops', 'watch'), { limits: { memoryBytes: 2147483648, memoryText: '2G', cpu: 2, pids: 1024 }, merge: true });
    // an agent added with `fleetctl add agent` (not in the manifest) gets its fleet's settings
    assert.deepEqual(agentIsolationSpec(m, 'acme', 'added'), {
      limits: { memoryBytes: 1610612736, memoryText: '1.5G', cpu: 2, pids: 1024 },
      merge: true,
      user: { name: 'acme-gw', setAt: 'fleets.acme.user' },
    });
    assert.deepEqual(cgroupConfigOf(m), { mode: 'auto', root: 'fleetd' });
  });

  test('a manifest without them is unchanged: no limits, no merge, fleetd\'s user, cgroup auto', () => {
    const m = parseManifest('{ version: 1, fleets: { acme: { agents: { korax: {} } } } }', F);
    assert.deepEqual(agentIsolationSpec(m, 'acme', 'korax'), { limits: {}, merge: false });
    assert.deepEqual(cgroupConfigOf(m), { mode: 'auto', root: undefined });
    assert.equal('cgroup' in m, false);
  });

  const agent = (body: string) => `{ version: 1, fleets: { acme: { agents: { korax: ${body} } } } }`;
  const INVALID: Array<[string, string, string[]]> = [
    ['memory not a size', agent('{ limits: { memory: "1.5X" } }'), ['fleets.acme.agents.korax.limits.memory: expected a size such as "1.5G", "512M", "64Mi", "64MiB" (binary units K, M, G, T) or a number of bytes, or "max" for no limit, found "1.5X"']],
    ['memory in decimal MB', '{ version: 1, defaults: { limits: { memory: "512MB" } } }', ['defaults.limits.memory: expected a size such as "1.5G", "512M", "64Mi", "64MiB" (binary units K, M, G, T) or a number of bytes, or "max" for no limit, found "512MB"']],
    ['memory too small', '{ version: 1, fleets: { acme: { defaults: { limits: { memory: "1M" } } } } }', ['fleets.acme.defaults.limits.memory: must be at least 16M (a Node gateway cannot start below that), found "1M"']],
    ['cpu as a string', agent('{ limits: { cpu: "2" } }'), ['fleets.acme.agents.korax.limits.cpu: expected a number of CPU cores such as 1.5, or "max" for no limit, found "2"']],
    ['cpu too small', agent('{ limits: { cpu: 0 } }'), ['fleets.acme.agents.korax.limits.cpu: must be between 0.01 and 4096 cores, found 0']],
    ['pids fraction', agent('{ limits: { pids: 2.5 } }'), ['fleets.acme.agents.korax.limits.pids: expected a whole number of processes and threads such as 512, or "max" for no limit, found 2.5']],
    ['unknown limit', agent('{ limits: { swap: "1G" } }'), ['fleets.acme.agents.korax.limits.swap: unknown key "swap", expected one of: memory, cpu, pids']],
    ['merge not boolean', agent('{ memory: { merge: "yes" } }'), ['fleets.acme.agents.korax.memory.merge: expected true or false, found "yes"']],
    ['user with a capital', '{ version: 1, fleets: { acme: { user: "Acme" } } }', ['fleets.acme.user: expected a user name (lowercase letters, digits, "_" and "-", starting with a letter or "_", at most 32 characters), found "Acme"']],
    ['user root', agent('{ user: "root" }'), ['fleets.acme.agents.korax.user: a gateway must not run as root (that is no isolation); name a tenant user such as "acme-gw", found "root"']],
    ['user in defaults (a tenant is a fleet)', '{ version: 1, defaults: { user: "x" } }', ['defaults.user: unknown key "user", expected one of: config, env, limits, memory']],
    ['bad cgroup mode', '{ version: 1, cgroup: { mode: "v3" } }', ['cgroup.mode: expected "auto" or "v1" or "v2" or "off", found "v3"']],
    ['cgroup root escaping', '{ version: 1, cgroup: { root: "/a/../b" } }', ['cgroup.root: must not contain "." or ".." components, found "/a/../b"']],
    ['cgroup root named like a file', '{ version: 1, cgroup: { root: "memory.max" } }', ['cgroup.root: component "memory.max" looks like a cgroup interface file, found "memory.max"']],
    [
      'limits with cgroups off',
      '{ version: 1, cgroup: { mode: "off" }, defaults: { limits: { memory: "1G", cpu: "max" } } }',
      ['defaults.limits.memory: limits are enforced through the agent\'s cgroup, but cgroup.mode is "off"; remove the limit or the mode'],
    ],
  ];
  for (const [name, text, expected] of INVALID) test(name, () => assert.deepEqual(problemsOf(text), expected));

  test('every problem of one manifest at once', () => {
    const lines = problemsOf('{ version: 1, fleets: { acme: { user: "root", agents: { a: { limits: { memory: "x", cpu: -1 } } } } } }');
    assert.equal(lines.length, 3, lines.join('\n'));
  });
});
