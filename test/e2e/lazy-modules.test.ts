// Modules a fleetd needs only for some requests are loaded by the first such request, not
// at start (docs/overhead.md: every module loaded stays in fleetd's heap for good); in the
// shipped build they are chunks of the bundle dist/fleetd/ (scripts/build.mjs). A module
// loader hook (--import, module.register) records every module of dist/ fleetd loads.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cleanup, fakeManifest, startFleetd, stopFleetd, tempDir, type Fleetd } from './harness.js';

describe('modules loaded on first use', () => {
  let dir: string;
  let f: Fleetd;
  let loadedLog: string;
  const loaded = (): string[] => (existsSync(loadedLog) ? readFileSync(loadedLog, 'utf8').split('\n').filter(Boolean) : []);

  before(async () => {
    dir = await tempDir();
    loadedLog = join(dir, 'loaded.txt');
    const hooks = `import { appendFileSync } from 'node:fs';\nexport async function load(url, context, next) { if (url.includes('/dist/')) appendFileSync(${JSON.stringify(loadedLog)}, url + '\\n'); return next(url, context); }\n`;
    await writeFile(join(dir, 'hooks.mjs'), hooks);
    await writeFile(join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});\n`);
    const env = { ...process.env, NODE_OPTIONS: `--import ${pathToFileURL(join(dir, 'register.mjs')).href}` };
    f = await startFleetd(dir, fakeManifest({ acme: { agents: { one: {} } } }), { env, waitRunning: 1 });
  });

  after(async () => {
    if (f) assert.equal(await stopFleetd(f), 0);
    await cleanup(dir);
  });

  test('the doctor: not loaded by a start; the first doctor request loads it and answers; its errors are FleetErrors', async () => {
    // fleetd runs from its bundle (scripts/build.mjs): dist/fleetd/main.js and chunks, never a module of dist/ outside it
    assert.ok(loaded().some((url) => url.endsWith('/dist/fleetd/main.js')), 'the hook sees fleetd\'s bundle');
    assert.deepEqual(loaded().filter((url) => !url.includes('/dist/fleetd/')), [], 'nothing loaded from dist/ outside the bundle');
    const doctorChunk = (url: string) => /\/dist\/fleetd\/run-doctor-[^/]+\.js$/.test(url);
    assert.deepEqual(loaded().filter(doctorChunk), [], 'no doctor chunk loaded at start');
    const r = await f.ctl('doctor', 'acme/one', '--no-openclaw');
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.json.checks.some((c: any) => c.id === 'files'));
    assert.ok(loaded().some(doctorChunk), 'loaded by the request');
    const unknown = await f.ctl('doctor', 'acme/nobody', '--no-openclaw');
    assert.equal(unknown.code, 1);
    assert.equal(unknown.json.error.code, 'NOT_FOUND');
  });
});
