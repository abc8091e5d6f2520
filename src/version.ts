// The one version module: read once from package.json, so `fleetd --version`,
// `fleetctl --version`, the status API and the README never disagree.
import { readFileSync } from 'node:fs';

/** package.json: next to dist/ (dist/version.js), or two up in the test build (.test-build/src/version.js). */
function readPackage(): { version: string; engines?: { node?: string } } {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      return JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { version: string; engines?: { node?: string } };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  throw new Error(`package.json not found above ${import.meta.url}`);
}

const pkg = readPackage();

/** This package's version. */
export const VERSION: string = pkg.version;

/** The Node versions fleetd supports (package.json engines.node). */
export const NODE_ENGINES: string = pkg.engines?.node ?? '*';
