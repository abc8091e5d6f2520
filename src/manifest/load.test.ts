// Valid manifests: defaults, path resolution, overrides; the shipped example; the file read.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { REPO } from '../../test/support/paths.js';
import JSON5 from 'json5';
import { FleetError } from '../errors.js';
import { loadManifest, parseManifest, resolveLaunch, resolveManifestPaths } from './load.js';
import { summarizeManifest } from './summary.js';

const F = '/srv/fleet/fleets.json5';

/** The same data with ordinary prototypes (fleets and agents records have none: see the id tests). */
const plain = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

describe('defaults', () => {
  test('a minimal manifest gets every default and absolute paths next to it', () => {
    const m = parseManifest('{ version: 1 }', F);
    assert.deepEqual(plain(m), {
      version: 1,
      manifestPath: F,
      stateDir: '/srv/fleet/fleetd-state',
      socket: '/srv/fleet/fleetd-state/fleetd.sock',
      runtimesDir: '/srv/fleet/fleetd-state/runtimes',
      startConcurrency: 2,
      ports: { base: 20000, blockSize: 100, max: 65000 },
      gateway: { env: {}, stopTimeoutMs: 60000, reloadTimeoutMs: 30000 },
      restart: { initialDelayMs: 1000, factor: 2, maxDelayMs: 300000, resetAfterMs: 600000, noRestartExitCodes: [78] },
      health: { intervalMs: 10000, timeoutMs: 2000, failureThreshold: 3, startupTimeoutMs: 120000 },
      logs: { maxBytes: 10485760, maxFiles: 5 },
      upgrade: { maxParallel: 1, readyTimeoutMs: 300000 },
      defaults: { config: {}, env: {} },
      knowledge: {},
      fleets: {},
    });
  });

  test('fleets and agents get their defaults', () => {
    const m = parseManifest('{ version: 1, fleets: { acme: { agents: { korax: {}, off: { enabled: false } } }, empty: {} } }', F);
    assert.deepEqual(plain(m.fleets['acme']), {
      defaults: { config: {}, env: {} },
      agents: {
        korax: { enabled: true, config: {}, env: {}, calls: [], knowledge: [] },
        off: { enabled: false, config: {}, env: {}, calls: [], knowledge: [] },
      },
    });
    assert.deepEqual(plain(m.fleets['empty']), { defaults: { config: {}, env: {} }, agents: {} });
  });

  test('config fragments are kept as written, including keys fleetd does not know', () => {
    const m = parseManifest('{ version: 1, defaults: { config: { hooks: { enabled: false }, someFutureKey: [1, { a: null }] } } }', F);
    assert.deepEqual(m.defaults.config, { hooks: { enabled: false }, someFutureKey: [1, { a: null }] });
  });

  test('the browser is allowed with blocks of 120', () => {
    const m = parseManifest('{ version: 1, ports: { blockSize: 120 }, defaults: { config: { browser: { enabled: true } } } }', F);
    assert.deepEqual(m.defaults.config, { browser: { enabled: true } });
  });

  test('browser.enabled: false is fine with blocks of 100', () => {
    assert.equal(parseManifest('{ version: 1, defaults: { config: { browser: { enabled: false } } } }', F).ports.blockSize, 100);
  });

  test('JSON5 features and a byte order mark are accepted', () => {
    const m = parseManifest('\uFEFF// comment\n{ version: 1, /* c */ fleets: { a: { agents: { b: {}, }, }, }, }', F);
    assert.equal(m.fleets['a']?.agents['b']?.enabled, true);
  });

  test('exactly one block between base and max is enough', () => {
    const m = parseManifest('{ version: 1, ports: { base: 30000, blockSize: 100, max: 30100 }, fleets: { a: { agents: { b: {} } } } }', F);
    assert.equal(m.ports.max, 30100);
  });
});

describe('paths', () => {
  test('relative paths resolve against the manifest folder', () => {
    const m = parseManifest('{ version: 1, stateDir: "state", socket: "run/f.sock", runtimesDir: "../rt" }', F);
    assert.equal(m.stateDir, '/srv/fleet/state');
    assert.equal(m.socket, '/srv/fleet/run/f.sock');
    assert.equal(m.runtimesDir, '/srv/rt');
  });

  test('socket and runtimes follow a written stateDir', () => {
    const m = parseManifest('{ version: 1, stateDir: "/var/lib/fleetd" }', F);
    assert.equal(m.socket, '/var/lib/fleetd/fleetd.sock');
    assert.equal(m.runtimesDir, '/var/lib/fleetd/runtimes');
  });

  test('absolute paths stay as written', () => {
    const m = parseManifest('{ version: 1, stateDir: "/a", socket: "/run/fleetd.sock", runtimesDir: "/opt/rt" }', F);
    assert.deepEqual([m.stateDir, m.socket, m.runtimesDir], ['/a', '/run/fleetd.sock', '/opt/rt']);
  });

  test('a relative manifest file name gives an absolute manifestPath', () => {
    const m = parseManifest('{ version: 1 }', 'fleets.json5');
    assert.equal(m.manifestPath, resolve('fleets.json5'));
    assert.equal(m.stateDir, join(process.cwd(), 'fleetd-state'));
  });

  test('overrides win; the default socket follows the overridden stateDir', () => {
    const text = '{ version: 1, stateDir: "state", runtimesDir: "rt" }';
    const m = parseManifest(text, F, { stateDir: '/tmp/sd' });
    assert.equal(m.stateDir, '/tmp/sd');
    assert.equal(m.socket, '/tmp/sd/fleetd.sock');
    assert.equal(m.runtimesDir, '/srv/fleet/rt');
    const n = parseManifest('{ version: 1, socket: "/run/a.sock" }', F, { socket: '/tmp/b.sock' });
    assert.equal(n.socket, '/tmp/b.sock');
    assert.equal(n.stateDir, '/srv/fleet/fleetd-state');
    assert.equal(parseManifest('{ version: 1 }', F, { stateDir: '/tmp/x' }).runtimesDir, '/tmp/x/runtimes');
  });

  test('relative overrides are CLI flags: they resolve against the cwd', () => {
    const m = parseManifest('{ version: 1 }', F, { stateDir: 'sd', socket: 's.sock' });
    assert.equal(m.stateDir, resolve('sd'));
    assert.equal(m.socket, resolve('s.sock'));
  });

  test('a long default socket is fixed by a short --socket', () => {
    const text = `{ version: 1, stateDir: "/var/${'s'.repeat(90)}" }`;
    assert.throws(() => parseManifest(text, F), (err: unknown) => err instanceof FleetError && err.code === 'MANIFEST_INVALID');
    assert.equal(parseManifest(text, F, { socket: '/tmp/f.sock' }).socket, '/tmp/f.sock');
  });

  test('a too long --socket is reported as coming from the flag', () => {
    assert.throws(
      () => parseManifest('{ version: 1 }', F, { socket: `/tmp/${'x'.repeat(100)}` }),
      (err: unknown) => err instanceof FleetError && /found 105 bytes \(from --socket: /.test(err.message),
    );
  });

  test('resolveManifestPaths alone', () => {
    assert.deepEqual(resolveManifestPaths('/m', {}), { stateDir: '/m/fleetd-state', socket: '/m/fleetd-state/fleetd.sock', runtimesDir: '/m/fleetd-state/runtimes' });
  });
});

describe('fleets.example.json5', () => {
  const exampleUrl = pathToFileURL(join(REPO, 'fleets.example.json5'));

  test('loads and validates', async () => {
    const m = await loadManifest(fileURLToPath(exampleUrl));
    const folder = dirname(fileURLToPath(exampleUrl));
    assert.equal(m.stateDir, join(folder, 'fleetd-state'));
    assert.equal(m.gateway.openclaw, '2026.9.6');
    assert.equal(m.gateway.command, undefined);
    const s = summarizeManifest(m);
    assert.ok(s.fleets >= 2, 'several fleets');
    assert.ok(s.enabledAgents >= 1 && s.enabledAgents <= 3, `at most 3 enabled agents, found ${s.enabledAgents}`);
    assert.ok(s.agents > s.enabledAgents, 'at least one disabled agent');
    for (const [fleetId, fleet] of Object.entries(m.fleets)) {
      for (const agentId of Object.keys(fleet.agents)) {
        assert.deepEqual(resolveLaunch(m, fleetId, agentId), { kind: 'openclaw', version: '2026.9.6' });
      }
    }
  });

  test('writes no stateDir, shares defaults and overrides per agent', async () => {
    const raw = JSON5.parse(await readFile(exampleUrl, 'utf8')) as Record<string, unknown>;
    assert.equal('stateDir' in raw, false);
    const m = await loadManifest(fileURLToPath(exampleUrl));
    assert.ok(Object.keys(m.defaults.config).length > 0, 'top-level defaults.config');
    assert.ok(Object.values(m.fleets).some((f) => Object.keys(f.defaults.config).length > 0), 'a fleet with defaults');
    assert.ok(
      Object.values(m.fleets).some((f) => Object.values(f.agents).some((a) => Object.keys(a.config).length > 0)),
      'an agent with its own config',
    );
    assert.ok('restart' in raw && 'health' in raw, 'restart and health blocks are shown');
  });
});

describe('loadManifest', () => {
  test('a missing file is MANIFEST_NOT_FOUND naming the path and the next step', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fleetd-'));
    try {
      const path = join(dir, 'nope.json5');
      await assert.rejects(loadManifest(path), (err: unknown) => {
        assert.ok(err instanceof FleetError);
        assert.equal(err.code, 'MANIFEST_NOT_FOUND');
        assert.ok(err.message.includes(path), err.message);
        assert.match(err.message, /no such file; create it \(start from fleets\.example\.json5\) or pass --manifest <path>/);
        return true;
      });
      await assert.rejects(loadManifest(dir), (err: unknown) => err instanceof FleetError && err.code === 'MANIFEST_NOT_FOUND' && /is a directory/.test(err.message));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a real file loads; paths resolve against its folder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fleetd-'));
    try {
      await mkdir(join(dir, 'conf'));
      const path = join(dir, 'conf', 'fleets.json5');
      await writeFile(path, '{ version: 1, stateDir: "../state", fleets: { a: { agents: { b: {} } } } }');
      const m = await loadManifest(path, { socket: join(dir, 's.sock') });
      assert.equal(m.manifestPath, path);
      assert.equal(m.stateDir, join(dir, 'state'));
      assert.equal(m.socket, join(dir, 's.sock'));
      assert.deepEqual(summarizeManifest(m), { fleets: 1, agents: 1, enabledAgents: 1 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('an invalid file names its absolute path on every line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fleetd-'));
    try {
      const path = join(dir, 'fleets.json5');
      await writeFile(path, '{ version: 1, fleets: { Acme: {} }, gateway: { env: { HOME: "/" } } }');
      await assert.rejects(loadManifest(path), (err: unknown) => {
        assert.ok(err instanceof FleetError && err.code === 'MANIFEST_INVALID');
        const problems = (err.details as { problems: string[] }).problems;
        assert.equal(problems.length, 2);
        for (const line of problems) assert.ok(line.startsWith(`${path}: `), line);
        return true;
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('hostile input (issue 9 item 5)', () => {
  /** The MANIFEST_INVALID lines of `text`. */
  const problems = (text: string): string[] => {
    try {
      parseManifest(text, F);
    } catch (err) {
      assert.ok(err instanceof FleetError && err.code === 'MANIFEST_INVALID', String(err));
      return (err.details as { problems: string[] }).problems;
    }
    assert.fail('expected MANIFEST_INVALID');
  };

  test('nested 100 000 levels (objects, arrays, in config, env or at the top): one located line, no stack overflow', () => {
    const deep = (open: string, close: string) => `${open.repeat(100_000)}1${close.repeat(100_000)}`;
    const cases: Array<[string, string, RegExp]> = [
      ['objects in config', `{ version: 1, fleets: { acme: { agents: { a: { config: { x: ${deep('{"y":', '}')} } } } } } }`, /^\/srv\/fleet\/fleets\.json5:1:\d+: fleets\.acme\.agents\.a\.config\.x\.\.\.\(\d+ more levels\)(\.y){6}: nested deeper than 100 levels/],
      ['arrays in config', `{ version: 1, defaults: { config: { list: ${deep('[', ']')} } } }`, /^\/srv\/fleet\/fleets\.json5:1:\d+: defaults\.config\.list\[0\]\[0\].*: nested deeper than 100 levels/],
      ['arrays at the top', `{ version: 1, oops: ${deep('[', ']')} }`, /:1:\d+: oops.*nested deeper than 100 levels/],
      ['the whole file', deep('[', ']'), /:1:101: \[0\].*nested deeper than 100 levels/],
    ];
    for (const [name, text, expected] of cases) {
      const lines = problems(text);
      assert.equal(lines.length, 1, name);
      assert.match(lines[0]!, expected, name);
    }
  });

  test('a manifest at the depth limit is read as usual', () => {
    const config = `${'{"a":'.repeat(95)}1${'}'.repeat(95)}`;
    const m = parseManifest(`{ version: 1, defaults: { config: ${config} } }`, F);
    assert.ok(m.defaults.config.a);
  });

  test('a key written twice is refused naming both places: `fleets`, an agent, a config key', () => {
    const text = ['{', '  version: 1,', '  fleets: { acme: { agents: { korax: {} } } },', "  'fleets': { other: { agents: { a: {}, a: { enabled: false } } } },", '  defaults: { config: { hooks: {}, "hooks": {} } },', '}'].join('\r\n');
    assert.deepEqual(problems(text), [
      '/srv/fleet/fleets.json5:4:3: fleets: key written twice in the same object (first at 3:3, again at 4:3); JSON5 would keep only the last: remove one',
      '/srv/fleet/fleets.json5:4:41: fleets.other.agents.a: key written twice in the same object (first at 4:34, again at 4:41); JSON5 would keep only the last: remove one',
      '/srv/fleet/fleets.json5:5:36: defaults.config.hooks: key written twice in the same object (first at 5:25, again at 5:36); JSON5 would keep only the last: remove one',
    ]);
  });

  test('JSON5 syntax errors are located right with \\r line endings (json5 itself counts only \\n)', () => {
    assert.deepEqual(problems('{\r  version: 1,\r  fleets: ]\r}'), ['/srv/fleet/fleets.json5:3:11: not valid JSON5: invalid character \']\'']);
  });

  test('ids that are Object.prototype members are ids like any other', async () => {
    const { desiredAgents, launchOf } = await import('../plan/desired.js');
    const { effectiveBrowserEnabled } = await import('./rules.js');
    const m = parseManifest('{ version: 1, fleets: { constructor: { agents: { constructor: {}, x: {} } }, acme: { agents: { a: {} } } } }', F);
    assert.equal(Object.getPrototypeOf(m.fleets), null);
    assert.equal(Object.getPrototypeOf(m.fleets['acme']!.agents), null);
    assert.deepEqual(
      desiredAgents(m, { version: 1, agents: {} }).map((d) => d.address),
      ['acme/a', 'constructor/constructor', 'constructor/x'],
    );
    // Lookups of undeclared prototype names find nothing, on parsed and on hand-made manifests alike.
    const handMade = { ...m, fleets: { acme: { ...m.fleets['acme']!, agents: { a: m.fleets['acme']!.agents['a']! } } } };
    for (const manifest of [m, handMade]) {
      assert.deepEqual(launchOf(manifest, 'acme', 'constructor'), { kind: 'command', command: ['openclaw', 'gateway', 'run'] });
      assert.deepEqual(launchOf(manifest, 'tostring', 'constructor'), { kind: 'command', command: ['openclaw', 'gateway', 'run'] });
      if (manifest === handMade) assert.equal(effectiveBrowserEnabled(manifest, 'constructor', 'x'), undefined);
    }
    assert.throws(() => resolveLaunch(handMade, 'acme', 'constructor'), { code: 'NOT_FOUND' });
    const cli = { version: 1 as const, agents: { 'constructor/b': { fleet: 'constructor', agent: 'b', source: 'cli' as const, block: 9, port: 20900, token: 'a'.repeat(64), desired: 'running' as const, createdAt: 'x' } } };
    assert.deepEqual(desiredAgents(handMade, cli).map((d) => d.address), ['acme/a', 'constructor/b']);
  });
});
