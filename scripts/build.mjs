#!/usr/bin/env node
// Builds the shipped code (tsconfig.build.json) without ever leaving dist/ missing or half
// written: tsc compiles into a fresh temp folder beside it, then each file is moved into
// dist/ with one rename (atomic on the same filesystem), and files no longer built are
// removed last (the native shim, src/shim/native/, is compiled into the same staging folder). A fleetd or fleetctl started from this checkout during a build loads the
// old modules or the new ones, never a missing one. A failed compile changes nothing.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildNativeShim } from './build-native.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

/** Every file below `dir`, as paths relative to it. */
function files(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.push(relative(dir, path));
    }
  };
  walk(dir);
  return out;
}

const staging = mkdtempSync(join(root, '.dist-build-'));
try {
  const run = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', staging], { stdio: 'inherit' });
  if (run.status !== 0) process.exit(run.status ?? 1);
  // The native shim is built into the same staging folder: it replaces the old one atomically too.
  buildNativeShim(join(staging, 'shim', 'fleetd-shim'));
  const built = files(staging);
  for (const file of built) {
    mkdirSync(dirname(join(dist, file)), { recursive: true });
    renameSync(join(staging, file), join(dist, file));
  }
  const keep = new Set(built);
  for (const file of files(dist)) if (!keep.has(file)) rmSync(join(dist, file), { force: true });
} finally {
  rmSync(staging, { recursive: true, force: true });
}
