#!/usr/bin/env node
// dist/fleetctl.cjs: dist/cli/main.js and what it imports in one CommonJS file, run with the
// V8 code cache the build made beside it (scripts/build.mjs, src/cli/code-cache.ts).
import { fileURLToPath } from 'node:url';
import { runBundle } from '../dist/cli/code-cache.js';

const bundle = fileURLToPath(new URL('../dist/fleetctl.cjs', import.meta.url));
runBundle(bundle, `${bundle}.cache`);
