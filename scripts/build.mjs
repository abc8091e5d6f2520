#!/usr/bin/env node
// Builds the shipped code (tsconfig.build.json) without ever leaving dist/ missing or half
// written: tsc compiles into a fresh temp folder beside it, then each file is moved into
// dist/ with one rename (atomic on the same filesystem), and files no longer built are
// removed last (the native shim, src/shim/native/, is compiled into the same staging
// folder). A fleetd or fleetctl started from this checkout during a build loads the old
// modules or the new ones, never a missing one. A failed compile changes nothing.
//
// The native shim and the memory addon need a C compiler (scripts/build-native.mjs): CC set
// to something that does not run fails the build at once, before tsc; CC unset and no `cc`
// builds without them, with a warning. An expected failure (that CC, a failed compile, tsc's
// errors) ends the build with one line on stderr and exit 1 (runBuild).
//
// fleetctl runs from one bundled file, dist/fleetctl.cjs (bin/fleetctl.js runs it with a V8
// code cache, dist/fleetctl.cjs.cache: src/cli/code-cache.ts), made by esbuild from the
// compiled dist/cli/main.js: a CLI that loads ~70 modules of its own and ~100 of zod and
// commander spends most of its start in module resolution and loading, and one file cuts
// `fleetctl status` by ~60 ms, the code cache by ~50 ms more (bench/cli-results.md). Same
// code, no minifying.
//
// fleetd runs from an ES module bundle too, dist/fleetd/ (bundleFleetd): main.js and the chunks
// it imports at start, plus one chunk per module it loads on first use (the doctor, backups,
// /metrics, execa: docs/overhead.md, test/e2e/lazy-modules.test.ts). Whitespace and syntax are
// minified, names are kept (stack traces name the functions; the source maps beside the chunks
// give the lines, with NODE_OPTIONS=--enable-source-maps). At 5 agents (median of 5 starts):
// its socket answered after ~200 ms against ~330-420 ms from ~230 modules, RSS ~57 against
// ~61 MiB: one module per file keeps each one's source text, its module record and namespace
// in the heap for good, and resolving and reading ~230 files is most of a start. One file with
// the first-use modules inlined was worse (~62 MiB: every top-level function of the code it
// never runs gets its function object at load), hence the split.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildMemoryAddon, buildNativeShim, BuildError, findCompiler, runBuild } from './build-native.mjs';

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

/**
 * Bundles `<out>/cli/main.js` and what it imports into `<out>/fleetctl.cjs` (CommonJS, so that
 * node:vm can run it with a V8 code cache: src/cli/code-cache.ts), then makes that cache,
 * `<out>/fleetctl.cjs.cache`, from one run of `fleetctl --help` (what a run compiles lazily is in
 * the cache too), for the path the bundle will have once moved, `<finalDir>/fleetctl.cjs`. A cache
 * that cannot be made is a warning: fleetctl runs without it.
 */
async function bundleFleetctl(out, finalDir) {
  const { build } = await import('esbuild');
  const bundle = join(out, 'fleetctl.cjs');
  await build({
    entryPoints: [join(out, 'cli', 'main.js')],
    outfile: bundle,
    // the bundle's comments name each module by its path from here, not from the (random)
    // staging folder's parent: the same source gives the same bytes in every build
    absWorkingDir: out,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // version.js finds package.json from its own URL: in the bundle, the bundle's URL (dist/ too)
    define: { 'import.meta.url': '__fleetctlUrl' },
    banner: { js: "const __fleetctlUrl = require('node:url').pathToFileURL(__filename).href;" },
    logLevel: 'warning',
  });
  const loader = pathToFileURL(join(out, 'cli', 'code-cache.js')).href;
  const produce = `import { runBundle } from ${JSON.stringify(loader)}; runBundle(${JSON.stringify(bundle)}, '', { produceTo: ${JSON.stringify(`${bundle}.cache`)}, finalPath: ${JSON.stringify(join(finalDir, 'fleetctl.cjs'))} });`;
  // node -e puts its first argument at argv[1], where fleetctl expects its own path: hence 'fleetctl'
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', produce, '--', 'fleetctl', '--help'], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (run.status !== 0 || !existsSync(`${bundle}.cache`)) console.warn(`warning: no code cache for fleetctl (it runs, ~50 ms slower): ${run.stderr.trim() || `exit ${run.status}`}`);
}

/**
 * Bundles `<out>/daemon/main.js` and what it imports into `<out>/fleetd/` (ES modules, split
 * into chunks at each dynamic import, so first-use modules stay unloaded until used). The
 * chunks sit one folder below dist/ like the modules they replace, so what they resolve from
 * their own URL (version.ts: package.json; shim-client.ts: ../shim/; run.ts: the package root)
 * stays right. CommonJS dependencies get a `require` made from each chunk's own URL.
 */
async function bundleFleetd(out) {
  const { build } = await import('esbuild');
  await build({
    entryPoints: { main: join(out, 'daemon', 'main.js') },
    outdir: join(out, 'fleetd'),
    // paths relative to the (random) staging folder: the chunks' names are hashes of their
    // content and input paths, so the same source gives the same names in every build
    absWorkingDir: out,
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: true,
    sourcesContent: false,
    banner: { js: "import { createRequire as __fleetdRequire } from 'node:module'; const require = __fleetdRequire(import.meta.url);" },
    logLevel: 'warning',
  });
}

/** Order of the moves into dist/: an entry file (a bundle's main) after every file it may import. */
function movesLast(file) {
  return file === join('fleetd', 'main.js') || file === 'fleetctl.cjs' || file === 'fleetctl.cjs.cache' ? 1 : 0;
}

await runBuild(async () => {
  // first, so that a CC that does not run fails the build before anything is compiled
  const compiler = findCompiler();
  const staging = mkdtempSync(join(root, '.dist-build-'));
  try {
    const run = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', staging], { stdio: 'inherit' });
    if (run.status !== 0) throw new BuildError(`build: tsc failed (exit ${run.status ?? run.signal}); its errors are above`);
    await bundleFleetctl(staging, dist);
    await bundleFleetd(staging);
    // The native shim is built into the same staging folder: it replaces the old one atomically too.
    buildNativeShim(join(staging, 'shim', 'fleetd-shim'), compiler);
    buildMemoryAddon(join(staging, 'native', 'fleetd-memory.node'), compiler);
    const built = files(staging).sort((a, b) => movesLast(a) - movesLast(b));
    for (const file of built) {
      mkdirSync(dirname(join(dist, file)), { recursive: true });
      renameSync(join(staging, file), join(dist, file));
    }
    const keep = new Set(built);
    for (const file of files(dist)) if (!keep.has(file)) rmSync(join(dist, file), { force: true });
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
});
