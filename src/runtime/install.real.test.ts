// Slow, real-network suite: installs OpenClaw 2026.9.6 (and a Node package when this
// machine's Node is too old) from the npm registry into the shared runtime cache, so the
// ~840 MB install happens once per machine and the other real tests reuse it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { ensureRuntime } from './install.js';
import { listRuntimes } from './manage.js';
import { defaultRuntimeCacheDir } from './cache-dir.js';
import { gatewayArgv, runtimePathDir } from './gateway-argv.js';
import { satisfies } from './semver.js';
import type { ProgressEvent } from './types.js';

const VERSION = '2026.9.6';
const RANGE = '>=24.16.0 <25 || >=26.1.0';

test(`installs openclaw@${VERSION} from npm and runs it`, { timeout: 20 * 60_000 }, async () => {
  const runtimesDir = defaultRuntimeCacheDir();
  const events: ProgressEvent[] = [];
  const runtime = await ensureRuntime({
    runtimesDir,
    version: VERSION,
    onProgress: (e) => {
      events.push(e);
      process.stderr.write(`# runtime: ${e.phase}: ${e.message}\n`);
    },
  });
  assert.equal(runtime.dir, join(runtimesDir, `openclaw-${VERSION}`));
  assert.equal(runtime.entry, join(runtime.dir, 'node_modules/openclaw/openclaw.mjs'));
  assert.equal(events.at(-1)?.phase, 'done');

  // a HOME of our own: the real one is never touched
  const home = await mkdtemp(join(tmpdir(), 'fleetd-'));
  try {
    const env = { PATH: `${runtimePathDir(runtime)}:/usr/bin:/bin`, HOME: home };
    const node = await execa(runtime.node, ['--version'], { env, extendEnv: false });
    const nodeVersion = node.stdout.trim().replace(/^v/, '');
    assert.ok(satisfies(nodeVersion, RANGE), `node ${nodeVersion} is outside ${RANGE}`);
    assert.equal(nodeVersion, runtime.nodeVersion);

    const [bin, ...args] = gatewayArgv(runtime, 18999).slice(0, 2);
    const openclaw = await execa(bin!, [...args, '--version'], { env, extendEnv: false, cwd: home });
    assert.match(openclaw.stdout, new RegExp(`\\b${VERSION.replaceAll('.', '\\.')}\\b`));
  } finally {
    await rm(home, { recursive: true, force: true });
  }

  const pkg = JSON.parse(await readFile(join(runtime.dir, 'package.json'), 'utf8'));
  assert.equal(pkg.dependencies.openclaw, VERSION, 'pinned exactly');
  const listed = (await listRuntimes(runtimesDir)).find((r) => r.version === VERSION);
  assert.ok(listed, 'listed as complete');
  assert.ok((listed.sizeBytes ?? 0) > 100 * 1024 * 1024, `size ${listed.sizeBytes}`);

  // the second call reuses it without npm
  const again: ProgressEvent[] = [];
  const reused = await ensureRuntime({ runtimesDir, version: VERSION, onProgress: (e) => again.push(e) });
  assert.deepEqual(reused, runtime);
  assert.deepEqual(again.map((e) => e.phase), ['done']);
});
