// Fake OpenClaw runtimes for upgrade tests: a complete runtime folder as fleetd's installer
// leaves it (marker written last), whose entry is test/fixtures/fake-openclaw.mjs and whose
// Node is the one running the tests (nodeSource "system"), so no npm is ever involved.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FIXTURES } from './paths.js';

/** How a fake runtime behaves (see test/fixtures/fake-openclaw.mjs). */
export interface FakeRuntimeBehaviour {
  /** State schema this version writes; it refuses a newer one with exit 78. */
  schema: number;
  /** FAKE_MODE of its gateway (not-ready, exit78, slow-start:MS, crash-after:MS ...). */
  gateway?: string;
  handoff?: boolean;
  preflight?: boolean;
}

/** Writes `<runtimesDir>/openclaw-<version>` as a ready runtime; returns its folder. */
export async function installFakeRuntime(runtimesDir: string, version: string, behaviour: FakeRuntimeBehaviour): Promise<string> {
  const dir = join(runtimesDir, `openclaw-${version}`);
  const pkg = join(dir, 'node_modules', 'openclaw');
  await mkdir(pkg, { recursive: true });
  await writeFile(join(pkg, 'package.json'), JSON.stringify({ name: 'openclaw', version, bin: { openclaw: 'openclaw.mjs' } }));
  await writeFile(join(pkg, 'openclaw.mjs'), `#!/usr/bin/env node\nawait import(${JSON.stringify(join(FIXTURES, 'fake-openclaw.mjs'))});\n`);
  await writeFile(join(dir, 'fake-openclaw.json'), JSON.stringify({ version, ...behaviour }));
  const marker = {
    schema: 1,
    version,
    nodeVersion: process.versions.node,
    nodeSource: 'system',
    node: process.execPath,
    entry: 'node_modules/openclaw/openclaw.mjs',
    platform: process.platform,
    arch: process.arch,
    installedAt: new Date().toISOString(),
  };
  await writeFile(join(dir, 'fleetd-runtime.json'), JSON.stringify(marker));
  return dir;
}
