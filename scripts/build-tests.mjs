#!/usr/bin/env node
// Compiles src/ and test/ into .test-build/ for the test runner. Stale output of deleted
// sources is removed first, so a test file that no longer exists can never run. The native
// shim and the memory addon are built as for dist/ (scripts/build-native.mjs: a CC that does
// not run fails at once, before .test-build/ is touched; CC unset and no `cc` warns and builds
// neither); an expected failure ends with one line on stderr and exit 1 (runBuild).
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildMemoryAddon, buildNativeShim, BuildError, findCompiler, runBuild } from './build-native.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
await runBuild(async () => {
  const compiler = findCompiler();
  rmSync(join(root, '.test-build'), { recursive: true, force: true });
  const run = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.test.json')], { stdio: 'inherit' });
  if (run.status !== 0) throw new BuildError(`build: tsc failed (exit ${run.status ?? run.signal}); its errors are above`);
  // Beside the compiled shim client, where it looks for the native shim by default.
  buildNativeShim(join(root, '.test-build', 'src', 'shim', 'fleetd-shim'), compiler);
  // Where the compiled memory-reclaim.ts looks for the memory addon (../native/ from src/daemon/).
  buildMemoryAddon(join(root, '.test-build', 'src', 'native', 'fleetd-memory.node'), compiler);
});
