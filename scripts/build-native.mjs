// Compiles the native per-agent shim (src/shim/native/*.c, C11, libc only) into one binary.
// Used by build.mjs (dist/shim/fleetd-shim) and build-tests.mjs (.test-build/src/shim/
// fleetd-shim, where the compiled shim client looks for it). Also the memory addon
// (src/daemon/native/memory-reclaim.c, a Node-API addon: dist/native/fleetd-memory.node,
// .test-build/src/native/ for the tests), with which fleetd gives memory back once its fleet
// settles (src/daemon/memory-reclaim.ts).
//
// The compiler is CC when CC is set (non-empty), else `cc`:
// - CC set but it does not run (not found, or `$CC --version` fails): the build fails, naming
//   CC's value. Whoever set CC asked for a compiler; a build without the native parts would only
//   show later, as a slower shim and no memory reclaim.
// - CC unset and no `cc` (or one that does not run): the build warns and builds neither. fleetd
//   then runs the Node shim (dist/shim/main.js, same protocol) and runs without the addon; it
//   says both in its log at start, and `fleetctl doctor` warns.
// - A compile that fails fails the build (the C must stay warning-free under -Werror), leaving
//   nothing half written.
// Those failures are BuildErrors: runBuild, around the body of build.mjs and build-tests.mjs,
// prints their one line (after a failed compile, the compiler's own words are above it) and
// exits 1, with no stack trace; an unexpected error keeps its stack.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const sources = join(root, 'src', 'shim', 'native');

/** An expected build failure (a CC that does not run, a failed compile, tsc's errors): runBuild prints its message alone, without a stack. */
export class BuildError extends Error {
  name = 'BuildError';
}

/**
 * Runs the body of a build script. A BuildError is printed as its one line on stderr and the
 * process exits 1; any other error is thrown on (an unexpected one keeps its stack).
 */
export async function runBuild(body) {
  try {
    await body();
  } catch (err) {
    if (!(err instanceof BuildError)) throw err;
    console.error(err.message);
    process.exitCode = 1;
  }
}

/** How a spawnSync run that did not succeed ended: "failed: EACCES", "exited 1", "exited SIGKILL". */
function ended(run) {
  return run.error ? `failed: ${run.error.code ?? run.error.message}` : `exited ${run.status ?? run.signal}`;
}

/** `--version` of `words` failed: why, in a few words ("not found", "`false --version` exited 1"). */
function whyNotRunning(words, probe) {
  return probe.error?.code === 'ENOENT' ? 'not found' : `\`${words.join(' ')} --version\` ${ended(probe)}`;
}

/**
 * The C compiler: CC when set (a list of words, as make takes it: "ccache gcc", "gcc -m64"; the
 * first runs, the rest are its first arguments), else `cc`. Returns `{ cc, ccArgs }`, or `{ why }`
 * when CC is unset and `cc` is not there or does not run (the build goes on without native parts).
 * Throws a BuildError when CC is set and does not run.
 */
export function findCompiler(env = process.env) {
  const set = (env.CC ?? '').trim();
  const [cc, ...ccArgs] = (set || 'cc').split(/\s+/);
  const probe = spawnSync(cc, [...ccArgs, '--version'], { stdio: 'ignore' });
  if (!probe.error && probe.status === 0) return { cc, ccArgs };
  const why = whyNotRunning([cc, ...ccArgs], probe);
  if (set) throw new BuildError(`build: CC is set to \`${set}\` but it does not run (${why}); unset CC to build without native parts, or point it at a C compiler`);
  return { why: why === 'not found' ? `no C compiler: ${cc} not found` : `the C compiler does not run: ${why}` };
}

/**
 * Compiles `sources` (C11, warning-free under -Werror) with `flags` into `out` with `compiler`
 * (findCompiler's answer): written beside it, then renamed, so `out` is never half written.
 * Returns false, after warning `<why>; <absent>`, when there is no compiler; throws a BuildError
 * `compiling <what> failed (...)` when the compile fails (the compiler's own words are on
 * stderr), leaving nothing.
 */
function compileInto(compiler, out, what, absent, sources, flags, libs) {
  const { cc, ccArgs, why } = compiler;
  if (why) {
    console.warn(`build: ${why}; ${absent}`);
    return false;
  }
  mkdirSync(dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  const run = spawnSync(cc, [...ccArgs, '-std=c11', '-O2', '-Wall', '-Wextra', '-Werror', ...flags, '-o', tmp, ...sources, ...libs], { stdio: 'inherit' });
  if (run.status !== 0) {
    rmSync(tmp, { force: true });
    throw new BuildError(`build: compiling ${what} failed (${[cc, ...ccArgs].join(' ')} ${ended(run)})`);
  }
  // a "compiler" that exits 0 and writes nothing (/bin/true, a broken wrapper): not a build
  if (!existsSync(tmp)) throw new BuildError(`build: compiling ${what} failed (${[cc, ...ccArgs].join(' ')} exited 0 but wrote no ${tmp})`);
  renameSync(tmp, out);
  return true;
}

/**
 * Builds the shim into `out` with `compiler` (default: findCompiler(), which throws a BuildError
 * for a CC that does not run); returns false, with a warning, when CC is unset and there is no
 * `cc`. Throws a BuildError when the compile fails.
 */
export function buildNativeShim(out, compiler = findCompiler()) {
  const files = readdirSync(sources).filter((f) => f.endsWith('.c')).map((f) => join(sources, f));
  return compileInto(compiler, out, 'the native shim', 'the native shim is not built and fleetd will run the Node shim (dist/shim/main.js)', files, [], ['-lm']);
}

/**
 * Builds the memory addon into `out` with `compiler` (as buildNativeShim); returns false, with a
 * warning, when CC is unset and there is no `cc` (fleetd runs without it and says so in its log
 * at start). Throws a BuildError when CC does not run or the compile fails.
 */
export function buildMemoryAddon(out, compiler = findCompiler()) {
  const source = join(root, 'src', 'daemon', 'native', 'memory-reclaim.c');
  return compileInto(compiler, out, 'the memory addon', 'the memory addon is not built (fleetd gives memory back only as V8 decides)', [source], ['-shared', '-fPIC'], ['-ldl']);
}
