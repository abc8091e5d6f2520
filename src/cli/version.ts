// fleetctl's version: the package's, read once from package.json next to dist/.
import { readFileSync } from 'node:fs';

/** The version in package.json (dist/cli/version.js -> ../../package.json). */
export function packageVersion(): string {
  const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}
