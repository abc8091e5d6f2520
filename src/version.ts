import { readFileSync } from 'node:fs';

// Read once from package.json so `--version`, the status API and the README never disagree.
/** This package's version. */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
