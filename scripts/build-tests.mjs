#!/usr/bin/env node
// Compiles src/ and test/ into .test-build/ for the test runner. Stale output of deleted
// sources is removed first, so a test file that no longer exists can never run.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildMemoryAddon, buildNativeShim } from './build-native.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
rmSync(join(root, '.test-build'), { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const run = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.test.json')], { stdio: 'inherit' });
if (run.status !== 0) process.exit(run.status ?? 1);
// Beside the compiled shim client, where it looks for the native shim by default.
buildNativeShim(join(root, '.test-build', 'src', 'shim', 'fleetd-shim'));
// Where the compiled memory-reclaim.ts looks for the memory addon (../native/ from src/daemon/).
buildMemoryAddon(join(root, '.test-build', 'src', 'native', 'fleetd-memory.node'));
