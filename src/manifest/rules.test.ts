// Invalid manifests, one row each, asserting the exact lines fleetd prints; and the
// pure helpers of rules.ts (resolveLaunch precedence, effective browser value).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FleetError } from '../errors.js';
import { ID_PATTERN, ID_RULE } from './ids.js';
import { parseManifest } from './load.js';
import {
  FORBIDDEN_ENV,
  MANAGED_CONFIG_KEYS,
  RESERVED_ENV,
  checkRules,
  effectiveBrowserEnabled,
  resolveLaunch,
  unpinnedGatewayWarnings,
  portPlaceholderWarnings,
  portRangeWarnings,
} from './rules.js';

const F = '/srv/fleet/m.json5';

// Parses `text` expecting MANIFEST_INVALID; returns the problem lines without the file prefix.
function problemsOf(text: string, file = F): string[] {
  try {
    parseManifest(text, file);
  } catch (err) {
    assert.ok(err instanceof FleetError, `expected a FleetError, got ${String(err)}`);
    assert.equal(err.code, 'MANIFEST_INVALID');
    const problems = (err.details as { problems: string[] }).problems;
    assert.equal(err.message, problems.join('\n'));
    return problems.map((line) => {
      assert.ok(line.startsWith(file), `line does not start with the file: ${line}`);
      return line.slice(file.length);
    });
  }
  assert.fail('expected parseManifest to throw');
}

const idMsg = (id: string, hint?: string) =>
  `id must match ${ID_PATTERN.source} (${ID_RULE}), found ${JSON.stringify(id)}${hint ? ` (try "${hint}")` : ''}`;
const browserMsg = (bs: number) =>
  `the browser uses ports base+2..base+110, which overlap the next block with ports.blockSize ${bs}; set ports.blockSize: 120 or more, or browser.enabled: false, found true`;
const TOP_KEYS = 'version, stateDir, socket, socketGroup, runtimesDir, startConcurrency, ports, gateway, restart, health, logs, upgrade, metrics, cgroup, defaults, knowledge, fleets';
const SYSTEMD = 'refused: it makes the gateway believe systemd manages it (it then loops for 90 s on a port conflict), remove it';
const agent = (body: string) => `{ version: 1, fleets: { acme: { agents: { korax: ${body} } } } }`;
const fleetDefaults = (body: string) => `{ version: 1, fleets: { acme: { defaults: ${body}, agents: { korax: {} } } } }`;
const LONG = 'a'.repeat(120);

// [name, manifest text, exact problem lines (after "<file>")]
const INVALID: Array<[string, string, string[]]> = [
  // ids
  ['fleet id with a space', '{ version: 1, fleets: { "acme corp": {} } }', [`: fleets["acme corp"]: ${idMsg('acme corp', 'acme-corp')}`]],
  ['uppercase agent id', '{ version: 1, fleets: { acme: { agents: { Korax: {} } } } }', [`: fleets.acme.agents.Korax: ${idMsg('Korax', 'korax')}`]],
  ['id too long', `{ version: 1, fleets: { ${'a'.repeat(41)}: {} } }`, [`: fleets.${'a'.repeat(41)}: ${idMsg('a'.repeat(41), 'a'.repeat(40))}`]],
  ['id starting with a dash', '{ version: 1, fleets: { "-ops": {} } }', [`: fleets.-ops: ${idMsg('-ops', 'ops')}`]],
  ['id with underscore', agent('{}').replace('korax', 'my_agent'), [`: fleets.acme.agents.my_agent: ${idMsg('my_agent', 'my-agent')}`]],
  ['empty id, no suggestion', '{ version: 1, fleets: { "": {} } }', [`: fleets[""]: ${idMsg('')}`]],
  // unknown keys
  ['unknown top key with suggestion', '{ version: 1, fleet: {} }', [': fleet: unknown key "fleet", did you mean "fleets"?']],
  ['unknown top key without suggestion', '{ version: 1, colour: "red" }', [`: colour: unknown key "colour", expected one of: ${TOP_KEYS}`]],
  ['unknown gateway key', '{ version: 1, gateway: { stopTimeout: 5000 } }', [': gateway.stopTimeout: unknown key "stopTimeout", did you mean "stopTimeoutMs"?']],
  ['unknown agent key', agent('{ enable: false }'), [': fleets.acme.agents.korax.enable: unknown key "enable", did you mean "enabled"?']],
  ['unknown ports key', '{ version: 1, ports: { size: 100 } }', [': ports.size: unknown key "size", expected one of: base, blockSize, max']],
  ['command pinned per agent', agent('{ gateway: { command: ["x"] } }'), [': fleets.acme.agents.korax.gateway.command: unknown key "command", expected one of: openclaw, node']],
  ['__proto__ in a config', '{ version: 1, defaults: { config: { __proto__: { polluted: true } } } }', [': defaults.config.__proto__: the key "__proto__" is not allowed, remove it']],
  // wrong types and ranges
  ['ports.base as a string', '{ version: 1, ports: { base: "20000" } }', [': ports.base: expected a number, found "20000"']],
  ['privileged base port', '{ version: 1, ports: { base: 80 } }', [': ports.base: must be at least 1024, found 80']],
  ['fractional blockSize', '{ version: 1, ports: { blockSize: 1.5 } }', [': ports.blockSize: expected a whole number, found 1.5']],
  ['negative initial delay', '{ version: 1, restart: { initialDelayMs: -1 } }', [': restart.initialDelayMs: must be at least 0, found -1']],
  ['factor below 1', '{ version: 1, restart: { factor: 0.5 } }', [': restart.factor: must be at least 1, found 0.5']],
  ['exit code above 255', '{ version: 1, restart: { noRestartExitCodes: [78, 256] } }', [': restart.noRestartExitCodes[1]: must be at most 255, found 256']],
  ['stop timeout too short', '{ version: 1, gateway: { stopTimeoutMs: 50 } }', [': gateway.stopTimeoutMs: must be at least 100, found 50']],
  ['startConcurrency 0', '{ version: 1, startConcurrency: 0 }', [': startConcurrency: must be at least 1, found 0']],
  ['logs.maxFiles 0', '{ version: 1, logs: { maxFiles: 0 } }', [': logs.maxFiles: must be at least 1, found 0']],
  ['empty command', '{ version: 1, gateway: { command: [] } }', [': gateway.command: must list at least one item, found an empty array']],
  ['empty command word', '{ version: 1, gateway: { command: ["openclaw", ""] } }', [': gateway.command[1]: must not be empty, found ""']],
  ['command as one string', '{ version: 1, gateway: { command: "openclaw gateway run" } }', [': gateway.command: expected an array, found "openclaw gateway run"']],
  ['env value as a number', '{ version: 1, gateway: { env: { WORKERS: 3 } } }', [': gateway.env.WORKERS: expected a string, { file: "/absolute/path" } or { credential: "name" }, found 3']],
  ['env name starting with a digit', '{ version: 1, defaults: { env: { "1BAD": "x" } } }', [': defaults.env.1BAD: environment variable names are letters, digits and "_", not starting with a digit, found "1BAD"']],
  ['env name with a dash', agent('{ env: { "MY-VAR": "x" } }'), [': fleets.acme.agents.korax.env.MY-VAR: environment variable names are letters, digits and "_", not starting with a digit, found "MY-VAR"']],
  ['env value with a NUL byte', '{ version: 1, gateway: { env: { A: "x\\u0000y" } } }', [': gateway.env.A: environment values cannot contain a NUL character, found one']],
  ['enabled as a string', agent('{ enabled: "yes" }'), [': fleets.acme.agents.korax.enabled: expected true or false, found "yes"']],
  ['config as an array', '{ version: 1, defaults: { config: [] } }', [': defaults.config: expected an object, found an empty array']],
  ['fleets as an array', '{ version: 1, fleets: [] }', [': fleets: expected an object, found an empty array']],
  ['empty stateDir', '{ version: 1, stateDir: "" }', [': stateDir: must not be empty, found ""']],
  ['stateDir with ~', '{ version: 1, stateDir: "~/fleet" }', [': stateDir: fleetd does not expand "~": write an absolute path or one relative to the manifest folder, found "~/fleet"']],
  // managed config keys, at every level
  ['gateway.port in top defaults', '{ version: 1, defaults: { config: { gateway: { port: 18789 } } } }', [': defaults.config.gateway.port: managed by fleetd, remove it']],
  ['gateway.mode in fleet defaults', fleetDefaults('{ config: { gateway: { mode: "local" } } }'), [': fleets.acme.defaults.config.gateway.mode: managed by fleetd, remove it']],
  ['gateway.auth.token in an agent', agent('{ config: { gateway: { auth: { token: "t" } } } }'), [': fleets.acme.agents.korax.config.gateway.auth: managed by fleetd, remove it']],
  ['gateway.bind in an agent', agent('{ config: { gateway: { bind: "lan" } } }'), [': fleets.acme.agents.korax.config.gateway.bind: managed by fleetd, remove it']],
  ['logging.file', '{ version: 1, defaults: { config: { logging: { file: "/tmp/x.log", level: "info" } } } }', [': defaults.config.logging.file: managed by fleetd, remove it']],
  ['agents.defaults.workspace', fleetDefaults('{ config: { agents: { defaults: { workspace: "/w" } } } }'), [': fleets.acme.defaults.config.agents.defaults.workspace: managed by fleetd, remove it']],
  // browser vs block size
  ['browser on with the default block of 100', '{ version: 1, defaults: { config: { browser: { enabled: true } } } }', [`: defaults.config.browser.enabled: ${browserMsg(100)}`]],
  ['browser on in a fleet, block 110', `{ version: 1, ports: { blockSize: 110 }, fleets: { acme: { defaults: { config: { browser: { enabled: true } } } } } }`, [`: fleets.acme.defaults.config.browser.enabled: ${browserMsg(110)}`]],
  ['browser on in an agent', agent('{ config: { browser: { enabled: true } } }'), [`: fleets.acme.agents.korax.config.browser.enabled: ${browserMsg(100)}`]],
  // reserved and forbidden env, at every level
  ['HOME in gateway.env', '{ version: 1, gateway: { env: { HOME: "/root" } } }', [": gateway.env.HOME: set by fleetd for each agent (the agent's isolated home), remove it"]],
  ['OPENCLAW_STATE_DIR in defaults.env', '{ version: 1, defaults: { env: { OPENCLAW_STATE_DIR: "/s" } } }', [": defaults.env.OPENCLAW_STATE_DIR: set by fleetd for each agent (the agent's state dir), remove it"]],
  ['OPENCLAW_GATEWAY_PORT in fleet env', fleetDefaults('{ env: { OPENCLAW_GATEWAY_PORT: "1" } }'), [": fleets.acme.defaults.env.OPENCLAW_GATEWAY_PORT: set by fleetd for each agent (the agent's port block), remove it"]],
  ['OPENCLAW_NO_RESPAWN in agent env', agent('{ env: { OPENCLAW_NO_RESPAWN: "0" } }'), [': fleets.acme.agents.korax.env.OPENCLAW_NO_RESPAWN: set by fleetd for each agent (fleetd owns the process lifecycle), remove it']],
  ['INVOCATION_ID in gateway.env', '{ version: 1, gateway: { env: { INVOCATION_ID: "x" } } }', [`: gateway.env.INVOCATION_ID: ${SYSTEMD}`]],
  ['JOURNAL_STREAM in fleet env', fleetDefaults('{ env: { JOURNAL_STREAM: "8:1" } }'), [`: fleets.acme.defaults.env.JOURNAL_STREAM: ${SYSTEMD}`]],
  ['NODE_COMPILE_CACHE in agent env', agent('{ env: { NODE_COMPILE_CACHE: "/c" } }'), [': fleets.acme.agents.korax.env.NODE_COMPILE_CACHE: refused: it makes the openclaw launcher re-spawn itself (two processes per gateway, slow stops), remove it']],
  // launch
  // gateway.node: exact releases only, and only where an OpenClaw pin applies
  ['node pin as a range', '{ version: 1, gateway: { openclaw: "2026.9.6", node: ">=24" } }', [': gateway.node: expected an exact Node release such as "24.21.0" (no ranges, no prereleases), found ">=24"']],
  ['node pin as a prerelease', agent('{ gateway: { openclaw: "2026.9.6", node: "24.16.0-rc.1" } }'), [': fleets.acme.agents.korax.gateway.node: expected an exact Node release such as "24.21.0" (no ranges, no prereleases), found "24.16.0-rc.1"']],
  ['node pin with a command', '{ version: 1, gateway: { command: ["gw"], node: "24.21.0" }, fleets: { acme: { agents: { korax: {} } } } }', [': gateway.node: pins the Node of a managed OpenClaw runtime, but no gateway.openclaw applies here (top level, fleet or agent); add one or remove gateway.node']],
  ['agent node pin without any openclaw pin', agent('{ gateway: { node: "24.21.0" } }'), [': fleets.acme.agents.korax.gateway.node: pins the Node of a managed OpenClaw runtime, but no gateway.openclaw applies here (top level, fleet or agent); add one or remove gateway.node']],
  ['fleet node pin, one agent without openclaw', '{ version: 1, fleets: { acme: { gateway: { node: "24.21.0" }, agents: { a: { gateway: { openclaw: "2026.9.6" } }, b: {} } } } }', [': fleets.acme.gateway.node: pins the Node of a managed OpenClaw runtime, but no gateway.openclaw applies here (top level, fleet or agent); add one or remove gateway.node']],
  // metrics
  ['metrics on all interfaces', '{ version: 1, metrics: { listen: "0.0.0.0:9464" } }', [': metrics.listen: metrics name every agent and have no authentication: serve them on loopback (127.0.0.1 or [::1]) behind your scraper\'s proxy, or set metrics.allowNonLoopback: true, found "0.0.0.0:9464"']],
  ['metrics on a host name', '{ version: 1, metrics: { listen: "metrics.example:9464" } }', [': metrics.listen: host must be an IP address or "localhost" (no DNS lookups), found "metrics.example"']],
  ['metrics without a port', '{ version: 1, metrics: { listen: "127.0.0.1" } }', [': metrics.listen: expected HOST:PORT such as "127.0.0.1:9464" or "[::1]:9464", found "127.0.0.1"']],
  ['metrics port 0', '{ version: 1, metrics: { listen: "[::1]:0" } }', [': metrics.listen: port must be 1-65535, found 0']],
  ['upgrade.maxParallel 0', '{ version: 1, upgrade: { maxParallel: 0 } }', [': upgrade.maxParallel: must be at least 1, found 0']],
  ['fleet upgrade with an unknown key', '{ version: 1, fleets: { acme: { upgrade: { parallel: 2 } } } }', [': fleets.acme.upgrade.parallel: unknown key "parallel", expected one of: maxParallel, readyTimeoutMs']],
  ['command and openclaw both', '{ version: 1, gateway: { command: ["gw"], openclaw: "2026.9.6" } }', [': gateway: set gateway.command (a fixed command) or gateway.openclaw (a fleetd-managed OpenClaw version), not both, found both']],
  ['version pin "latest"', '{ version: 1, gateway: { openclaw: "latest" } }', [': gateway.openclaw: expected an exact OpenClaw version such as "2026.9.6", found "latest"']],
  ['range as an agent pin', agent('{ gateway: { openclaw: "^2026.9.6" } }'), [': fleets.acme.agents.korax.gateway.openclaw: expected an exact OpenClaw version such as "2026.9.6", found "^2026.9.6"']],
  // version and document shape
  ['version 2', '{ version: 2 }', [': version: expected version: 1 (the only manifest version this fleetd reads), found 2']],
  ['version as a string', '{ version: "1" }', [': version: expected version: 1 (the only manifest version this fleetd reads), found "1"']],
  ['missing version', '{ fleets: {} }', [': version: expected version: 1 (the only manifest version this fleetd reads), found nothing (the key is missing)']],
  ['top-level array', '[{ version: 1 }]', [': (top level): expected an object such as { version: 1, fleets: { ... } }, found an array of 1 item']],
  ['top-level number', '42', [': (top level): expected an object such as { version: 1, fleets: { ... } }, found 42']],
  ['JSON5 syntax error', '{\n  version: 1,\n  fleets: { acme: { agents: { korax: { enabled: yes } } } },\n}', [":3:49: not valid JSON5: invalid character 'y'"]],
  ['empty file', '', [':1:1: not valid JSON5: invalid end of input']],
  // cross-field numbers
  ['base + blockSize > max', '{ version: 1, ports: { base: 64000, blockSize: 2000, max: 65000 } }', [': ports: ports.base + ports.blockSize must be at most ports.max so that one block fits, found 64000 + 2000 = 66000 > 65000']],
  [
    'more enabled agents than blocks',
    '{ version: 1, ports: { base: 20000, blockSize: 100, max: 20199 }, fleets: { a: { agents: { x: {}, y: {}, z: {}, off: { enabled: false } } } } }',
    [': ports: 20000..20199 holds 2 blocks of 100 ports, one per enabled agent, found 3 enabled agents; raise ports.max or lower ports.base'],
  ],
  ['maxDelay below initialDelay', '{ version: 1, restart: { initialDelayMs: 5000, maxDelayMs: 1000 } }', [': restart.maxDelayMs: must be at least restart.initialDelayMs (5000), found 1000']],
  ['probe timeout not below interval', '{ version: 1, health: { intervalMs: 1000, timeoutMs: 1000 } }', [': health.timeoutMs: must be less than health.intervalMs (1000) so a probe ends before the next is due, found 1000']],
  ['startup window shorter than a probe', '{ version: 1, health: { timeoutMs: 2000, startupTimeoutMs: 1500 } }', [': health.startupTimeoutMs: must be more than health.timeoutMs (2000), found 1500']],
  // socket length
  [
    'socket path too long (manifest)',
    `{ version: 1, socket: "${LONG}" }`,
    [`: socket: must be at most 100 bytes (Unix sockets hold about 107), found 131 bytes (from "socket": /srv/fleet/${LONG}); set "socket" (or --socket) to a shorter path such as /run/fleetd/fleetd.sock`],
  ],
  [
    'socket path too long (default under stateDir)',
    `{ version: 1, stateDir: "/var/${'s'.repeat(90)}" }`,
    [`: socket: must be at most 100 bytes (Unix sockets hold about 107), found 107 bytes (the default <stateDir>/fleetd.sock: /var/${'s'.repeat(90)}/fleetd.sock); set "socket" (or --socket) to a shorter path such as /run/fleetd/fleetd.sock`],
  ],
];

describe('invalid manifests: one exact message per problem', () => {
  test('the table is big enough', () => assert.ok(INVALID.length >= 40, `only ${INVALID.length} rows`));
  for (const [name, text, expected] of INVALID) {
    test(name, () => assert.deepEqual(problemsOf(text), expected));
  }
});

describe('several problems at once', () => {
  test('every problem of every kind is reported, in one error', () => {
    const text = `{
      version: 1,
      colour: "red",
      ports: { base: "x" },
      restart: { initialDelayMs: 5000, maxDelayMs: 10 },
      gateway: { command: ["gw"], openclaw: "2026.9.6", env: { HOME: "/h", N: 1 } },
      defaults: { config: { gateway: { port: 1 }, browser: { enabled: true } } },
      fleets: { Acme: { agents: { "bad id": { env: { NODE_COMPILE_CACHE: "/c" } } } } },
    }`;
    const problems = problemsOf(text);
    assert.equal(problems.length, 11, problems.join('\n'));
    const paths = problems.map((p) => p.slice(2, p.indexOf(': ', 2)));
    assert.deepEqual(paths.sort(), [
      'colour',
      'defaults.config.browser.enabled',
      'defaults.config.gateway.port',
      'fleets.Acme',
      'fleets.Acme.agents["bad id"]',
      'fleets.Acme.agents["bad id"].env.NODE_COMPILE_CACHE',
      'gateway',
      'gateway.env.HOME',
      'gateway.env.N',
      'ports.base',
      'restart.maxDelayMs',
    ]);
  });

  test('the same name at two levels is reported at both', () => {
    const problems = problemsOf('{ version: 1, defaults: { env: { HOME: "/a" } }, gateway: { env: { HOME: "/b" } } }');
    assert.equal(problems.length, 2);
  });
});

describe('rule lists', () => {
  test('reserved and forbidden env names are the documented ones', () => {
    assert.deepEqual([...RESERVED_ENV].sort(), [
      'HOME',
      'OPENCLAW_CONFIG_PATH',
      'OPENCLAW_GATEWAY_PORT',
      'OPENCLAW_HOME',
      'OPENCLAW_NO_RESPAWN',
      'OPENCLAW_PROFILE',
      'OPENCLAW_STATE_DIR',
      'OPENCLAW_SUPERVISOR_MODE',
      'TMPDIR',
      'XDG_CACHE_HOME',
    ]);
    assert.deepEqual([...FORBIDDEN_ENV].sort(), ['INVOCATION_ID', 'JOURNAL_STREAM', 'NODE_COMPILE_CACHE', 'SYSTEMD_EXEC_PID']);
    assert.ok(MANAGED_CONFIG_KEYS.includes('gateway.auth'));
  });

  test('every reserved and forbidden name is refused in every env level', () => {
    for (const name of [...RESERVED_ENV, ...FORBIDDEN_ENV]) {
      const raw = {
        version: 1,
        gateway: { env: { [name]: 'x' } },
        defaults: { env: { [name]: 'x' } },
        fleets: { a: { defaults: { env: { [name]: 'x' } }, agents: { b: { env: { [name]: 'x' } } } } },
      };
      const paths = checkRules(raw).map((p) => p.path.join('.'));
      assert.deepEqual(paths, [`gateway.env.${name}`, `defaults.env.${name}`, `fleets.a.defaults.env.${name}`, `fleets.a.agents.b.env.${name}`]);
    }
  });

  test('rules ignore shapes that zod reports', () => {
    assert.deepEqual(checkRules(null), []);
    assert.deepEqual(checkRules([1, 2]), []);
    assert.deepEqual(checkRules({ fleets: 'x', defaults: 3, gateway: [], ports: { base: 'x' }, restart: null }), []);
  });
});

test('non-loopback metrics are accepted with allowNonLoopback, loopback ones without', () => {
  assert.equal(parseManifest('{ version: 1, metrics: { listen: "0.0.0.0:9464", allowNonLoopback: true } }', F).metrics?.listen, '0.0.0.0:9464');
  for (const listen of ['127.0.0.1:9464', '[::1]:9464', 'localhost:9464', '127.0.0.2:1']) assert.equal(parseManifest(`{ version: 1, metrics: { listen: "${listen}" } }`, F).metrics?.allowNonLoopback, false, listen);
});

describe('resolveLaunch precedence', () => {
  const manifest = (top: { command?: string[]; openclaw?: string }, fleetPin?: string, agentPin?: string) =>
    parseManifest(
      JSON.stringify({
        version: 1,
        gateway: top,
        fleets: {
          f: {
            ...(fleetPin ? { gateway: { openclaw: fleetPin } } : {}),
            agents: { a: agentPin ? { gateway: { openclaw: agentPin } } : {}, other: {} },
          },
        },
      }),
      F,
    );
  const rows: Array<[string, ReturnType<typeof manifest>, ReturnType<typeof resolveLaunch>]> = [
    ['nothing: the default command', manifest({}), { kind: 'command', command: ['openclaw', 'gateway', 'run'] }],
    ['gateway.command', manifest({ command: ['/usr/bin/gw', '--x'] }), { kind: 'command', command: ['/usr/bin/gw', '--x'] }],
    ['gateway.openclaw', manifest({ openclaw: '2026.9.6' }), { kind: 'openclaw', version: '2026.9.6' }],
    ['fleet pin beats gateway.openclaw', manifest({ openclaw: '2026.9.6' }, '2026.9.5'), { kind: 'openclaw', version: '2026.9.5' }],
    ['fleet pin beats gateway.command', manifest({ command: ['gw'] }, '2026.9.5'), { kind: 'openclaw', version: '2026.9.5' }],
    ['agent pin beats fleet pin', manifest({ openclaw: '2026.9.6' }, '2026.9.5', '2026.10.1-beta.2'), { kind: 'openclaw', version: '2026.10.1-beta.2' }],
    ['agent pin beats gateway.command', manifest({ command: ['gw'] }, undefined, '2026.9.4'), { kind: 'openclaw', version: '2026.9.4' }],
  ];
  for (const [name, m, expected] of rows) {
    test(name, () => assert.deepEqual(resolveLaunch(m, 'f', 'a'), expected));
  }

  test('the default command from PATH is valid but warned about, naming the agents it reaches; any choice silences it', () => {
    assert.deepEqual(unpinnedGatewayWarnings(manifest({})), [
      'fleets.f: agents a, other name no gateway (neither gateway.command nor a gateway.openclaw pin applies), so fleetd runs `openclaw gateway run` from its PATH, whatever OpenClaw version that is (or none); pin gateway.openclaw (top level, fleets.f.gateway or the agent\'s) or set gateway.command',
    ]);
    assert.match(unpinnedGatewayWarnings(manifest({}, undefined, '2026.9.4'))[0]!, /^fleets\.f: agent other names no gateway/);
    for (const m of [manifest({ command: ['gw'] }), manifest({ openclaw: '2026.9.6' }), manifest({}, '2026.9.5')]) assert.deepEqual(unpinnedGatewayWarnings(m), []);
  });
  test('port blocks that reach the ephemeral range are warned about, with the port they reach', () => {
    const fleets = (n: number) => ({ f: { agents: Object.fromEntries(Array.from({ length: n }, (_, i) => [`a${i}`, {}])) } }) as never;
    assert.deepEqual(portRangeWarnings({ ports: { base: 20000, blockSize: 100, max: 65000 }, fleets: fleets(127) }), [], '20000..32699: below');
    const [warning] = portRangeWarnings({ ports: { base: 20000, blockSize: 100, max: 65000 }, fleets: fleets(128) });
    assert.match(warning!, /^ports: the blocks of 128 agents \(ports.base 20000, blockSize 100\) reach port 32799, inside Linux's default ephemeral range/);
    assert.equal(portRangeWarnings({ ports: { base: 40000, blockSize: 100, max: 65000 }, fleets: fleets(1) }).length, 1);
    assert.deepEqual(portRangeWarnings({ ports: { base: 40000, blockSize: 100, max: 65000 }, fleets: fleets(0) }), [], 'no agent, no port');
  });


  test('gateway.node resolves agent > fleet > top, separately from the OpenClaw pin', () => {
    const m = parseManifest(
      JSON.stringify({
        version: 1,
        gateway: { openclaw: '2026.9.6', node: '24.21.0' },
        fleets: { f: { gateway: { node: '26.10.0' }, agents: { a: { gateway: { openclaw: '2026.9.5' } }, b: { gateway: { node: '24.20.0' } } } }, g: { agents: { c: {} } } },
      }),
      F,
    );
    assert.deepEqual(resolveLaunch(m, 'f', 'a'), { kind: 'openclaw', version: '2026.9.5', node: '26.10.0' });
    assert.deepEqual(resolveLaunch(m, 'f', 'b'), { kind: 'openclaw', version: '2026.9.6', node: '24.20.0' });
    assert.deepEqual(resolveLaunch(m, 'g', 'c'), { kind: 'openclaw', version: '2026.9.6', node: '24.21.0' });
  });

  test('an agent without a pin falls back to the fleet pin', () => {
    assert.deepEqual(resolveLaunch(manifest({ command: ['gw'] }, '2026.9.5', '2026.9.4'), 'f', 'other'), { kind: 'openclaw', version: '2026.9.5' });
  });

  test('the returned command is a copy', () => {
    const m = manifest({ command: ['gw'] });
    const launch = resolveLaunch(m, 'f', 'a');
    assert.equal(launch.kind, 'command');
    if (launch.kind === 'command') launch.command.push('mutated');
    assert.deepEqual(m.gateway.command, ['gw']);
    assert.deepEqual(resolveLaunch(manifest({}), 'f', 'a'), resolveLaunch(manifest({}), 'f', 'other'));
  });

  test('an unknown agent is NOT_FOUND', () => {
    assert.throws(() => resolveLaunch(manifest({}), 'f', 'nope'), (err: unknown) => err instanceof FleetError && err.code === 'NOT_FOUND' && /f\/nope/.test(err.message));
    assert.throws(() => resolveLaunch(manifest({}), 'toString', 'a'), (err: unknown) => err instanceof FleetError && err.code === 'NOT_FOUND');
  });
});

describe('effectiveBrowserEnabled', () => {
  const m = parseManifest(
    JSON.stringify({
      version: 1,
      ports: { blockSize: 120 },
      defaults: { config: { browser: { enabled: true } } },
      fleets: {
        f: { defaults: { config: { browser: { enabled: false } } }, agents: { off: {}, on: { config: { browser: { enabled: true } } } } },
        g: { agents: { inherit: {} } },
      },
    }),
    F,
  );
  test('agent > fleet defaults > top defaults', () => {
    assert.equal(effectiveBrowserEnabled(m, 'f', 'off'), false);
    assert.equal(effectiveBrowserEnabled(m, 'f', 'on'), true);
    assert.equal(effectiveBrowserEnabled(m, 'g', 'inherit'), true);
  });
  test('unset everywhere is undefined (OpenClaw then turns it on)', () => {
    const plain = parseManifest('{ version: 1, fleets: { f: { agents: { a: {} } } } }', F);
    assert.equal(effectiveBrowserEnabled(plain, 'f', 'a'), undefined);
  });
});

test('gateway.command: look-alikes of {port} and {port} as the program are warned about; {port} itself is not', () => {
  const warn = (command: string[]) => portPlaceholderWarnings({ gateway: { command } } as Parameters<typeof portPlaceholderWarnings>[0]);
  assert.deepEqual(warn(['busybox', 'httpd', '-p', '127.0.0.1:{port}']), []);
  assert.deepEqual(warn(['gw', 'run']), []);
  assert.match(warn(['busybox', '-p', '127.0.0.1:{PORT}'])[0]!, /^gateway\.command\[2\] holds "\{PORT\}", which is not the placeholder \{port\}.*passed as written, and fleetd appends --port P/);
  assert.match(warn(['gw', '{ port }', '--x={port}'])[0]!, /^gateway\.command\[1\] holds "\{ port \}".*passed as written$/);
  assert.match(warn(['gw', '127.0.0.1:{{port}}'])[0]!, /holds "\{\{port\}\}".*replaces the \{port\} inside it and keeps the other braces/);
  assert.match(warn(['{port}', 'x'])[0]!, /^gateway\.command\[0\] holds \{port\}: it is the program/);
});
