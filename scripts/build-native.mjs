// Compiles the native per-agent shim (src/shim/native/*.c, C11, libc only) into one binary.
// Used by build.mjs (dist/shim/fleetd-shim) and build-tests.mjs (.test-build/src/shim/
// fleetd-shim, where the compiled shim client looks for it). Without a C compiler it warns
// and builds nothing: fleetd then runs the Node shim (dist/shim/main.js), which speaks the
// same protocol. A compile error is an error (the C must stay warning-free under -Werror).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const sources = join(root, 'src', 'shim', 'native');

/** Builds the shim into `out` (written beside it, then renamed); returns false when no compiler is there. Throws when the compile fails. */
export function buildNativeShim(out) {
  const cc = process.env.CC || 'cc';
  const probe = spawnSync(cc, ['--version'], { stdio: 'ignore' });
  if (probe.error || probe.status !== 0) {
    console.warn(`build: no C compiler (${cc}): the native shim is not built; fleetd will run the Node shim (dist/shim/main.js)`);
    return false;
  }
  const files = readdirSync(sources).filter((f) => f.endsWith('.c')).map((f) => join(sources, f));
  mkdirSync(dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  const run = spawnSync(cc, ['-std=c11', '-O2', '-Wall', '-Wextra', '-Werror', '-o', tmp, ...files, '-lm'], { stdio: 'inherit' });
  if (run.status !== 0) {
    rmSync(tmp, { force: true });
    throw new Error(`build: compiling the native shim failed (${cc} exited ${run.status ?? run.signal})`);
  }
  renameSync(tmp, out);
  return true;
}
