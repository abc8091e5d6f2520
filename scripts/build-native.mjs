// Compiles the native per-agent shim (src/shim/native/*.c, C11, libc only) into one binary.
// Used by build.mjs (dist/shim/fleetd-shim) and build-tests.mjs (.test-build/src/shim/
// fleetd-shim, where the compiled shim client looks for it). Without a C compiler it warns
// and builds nothing: fleetd then runs the Node shim (dist/shim/main.js), which speaks the
// same protocol. A compile error is an error (the C must stay warning-free under -Werror).
//
// Also the memory addon (src/daemon/native/memory-reclaim.c, a Node-API addon: dist/native/
// fleetd-memory.node, .test-build/src/native/ for the tests), with which fleetd gives memory
// back once its fleet settles (src/daemon/memory-reclaim.ts). Without a compiler the build warns
// and fleetd runs without it (and says so in its log); a compile error is an error, as for the shim.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const sources = join(root, 'src', 'shim', 'native');

/** The C compiler (CC is a list of words, as make takes it: "ccache gcc", "gcc -m64"; the first runs, the rest are its first arguments), or why there is none. */
function compiler() {
  const [cc, ...ccArgs] = (process.env.CC || 'cc').trim().split(/\s+/);
  const probe = spawnSync(cc, [...ccArgs, '--version'], { stdio: 'ignore' });
  if (!probe.error && probe.status === 0) return { cc, ccArgs };
  const why = probe.error?.code === 'ENOENT' ? `no C compiler: ${cc} not found` : `the C compiler does not run: \`${[cc, ...ccArgs].join(' ')} --version\` ${probe.error ? `failed (${probe.error.code ?? probe.error.message})` : `exited ${probe.status ?? probe.signal}`}`;
  return { why };
}

/**
 * Compiles `sources` (C11, warning-free under -Werror) with `flags` into `out`: written beside
 * it, then renamed, so `out` is never half written. Returns false, after warning `<why>; <absent>`,
 * when there is no compiler; throws `compiling <what> failed (...)` when the compile fails (the
 * compiler's own words are on stderr), leaving nothing.
 */
function compileInto(out, what, absent, sources, flags, libs) {
  const { cc, ccArgs, why } = compiler();
  if (why) {
    console.warn(`build: ${why}; ${absent}`);
    return false;
  }
  mkdirSync(dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  const run = spawnSync(cc, [...ccArgs, '-std=c11', '-O2', '-Wall', '-Wextra', '-Werror', ...flags, '-o', tmp, ...sources, ...libs], { stdio: 'inherit' });
  if (run.status !== 0) {
    rmSync(tmp, { force: true });
    throw new Error(`build: compiling ${what} failed (${[cc, ...ccArgs].join(' ')} ${run.error ? `failed: ${run.error.code ?? run.error.message}` : `exited ${run.status ?? run.signal}`})`);
  }
  renameSync(tmp, out);
  return true;
}

/** Builds the shim into `out`; returns false when no compiler is there. Throws when the compile fails. */
export function buildNativeShim(out) {
  const files = readdirSync(sources).filter((f) => f.endsWith('.c')).map((f) => join(sources, f));
  return compileInto(out, 'the native shim', 'the native shim is not built and fleetd will run the Node shim (dist/shim/main.js)', files, [], ['-lm']);
}

/**
 * Builds the memory addon into `out`; returns false, with a warning, when there is no compiler
 * (fleetd runs without it and says so in its log at start). Throws when the compile fails.
 */
export function buildMemoryAddon(out) {
  const source = join(root, 'src', 'daemon', 'native', 'memory-reclaim.c');
  return compileInto(out, 'the memory addon', 'the memory addon is not built (fleetd gives memory back only as V8 decides)', [source], ['-shared', '-fPIC'], ['-ldl']);
}
