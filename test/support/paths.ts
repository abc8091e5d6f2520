// Where things are, for tests: found from the repository root (the folder holding this
// project's package.json), so no test depends on how deep its compiled copy sits.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Walks up from this module to the folder whose package.json names openclaw-fleetd. */
function findRepo(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'openclaw-fleetd') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('test/support/paths: no openclaw-fleetd package.json above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

/** Repository root. */
export const REPO = findRepo();
/** The shipped binaries (they run dist/, the shipped build). */
export const FLEETD_BIN = join(REPO, 'bin', 'fleetd.js');
export const FLEETCTL_BIN = join(REPO, 'bin', 'fleetctl.js');
/** Fixture scripts. */
export const FIXTURES = join(REPO, 'test', 'fixtures');
/** The fake gateway (a real process that behaves like OpenClaw on command). */
export const FAKE_GATEWAY = join(FIXTURES, 'fake-gateway.mjs');
/** The fake npm (answers `npm view` / `npm install` from a config file). */
export const FAKE_NPM = join(FIXTURES, 'fake-npm.cjs');
