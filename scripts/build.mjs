#!/usr/bin/env node
// Builds the shipped code (tsconfig.build.json) without ever leaving dist/ missing or half
// written: tsc compiles into a fresh temp folder beside it, then each file is moved into
// dist/ with one rename (atomic on the same filesystem), and files no longer built are
// removed last (the native shim, src/shim/native/, is compiled into the same staging
// folder). A fleetd or fleetctl started from this checkout during a build loads the old
// modules or the new ones, never a missing one. A failed compile changes nothing.
//
// fleetctl runs from one bundled file, dist/fleetctl.js (bin/fleetctl.js imports it), made
// by esbuild from the compiled dist/cli/main.js: a CLI that loads ~70 modules of its own and
// ~100 of zod and commander spends most of its start in module resolution and loading, and
// one file cuts `fleetctl status` by ~60 ms (bench/cli-results.md). Same code, no minifying.
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

/** Bundles `<out>/cli/main.js` and what it imports into `<out>/fleetctl.js` (ESM; node: modules and CommonJS requires stay requires). */
async function bundleFleetctl(out) {
  const { build } = await import('esbuild');
  await build({
    entryPoints: [join(out, 'cli', 'main.js')],
    outfile: join(out, 'fleetctl.js'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // commander and json5 are CommonJS and require node: modules, which an ES module bundle needs a require for
    banner: { js: "import { createRequire as __fleetctlRequire } from 'node:module'; const require = __fleetctlRequire(import.meta.url);" },
    logLevel: 'warning',
  });
}

const staging = mkdtempSync(join(root, '.dist-build-'));
try {
  const run = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', staging], { stdio: 'inherit' });
  if (run.status !== 0) process.exit(run.status ?? 1);
  await bundleFleetctl(staging);
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
