// The one version module: read once from package.json, so `fleetd --version`,
// `fleetctl --version`, the status API and the README never disagree.
import { readFileSync } from 'node:fs';

/** This package's version (dist/version.js -> ../package.json). */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
