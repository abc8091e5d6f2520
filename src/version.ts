// The one version module: read once from package.json, so `fleetd --version`,
// `fleetctl --version`, the status API and the README never disagree.
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string; engines?: { node?: string } };

/** This package's version (dist/version.js -> ../package.json). */
export const VERSION: string = pkg.version;

/** The Node versions fleetd supports (package.json engines.node). */
export const NODE_ENGINES: string = pkg.engines?.node ?? '*';
