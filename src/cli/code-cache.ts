// How bin/fleetctl.js runs fleetctl: the CommonJS bundle dist/fleetctl.cjs (scripts/build.mjs)
// compiled with a V8 code cache made at build time (dist/fleetctl.cjs.cache). Without it, V8
// compiles the 1.3 MB bundle on every run: ~28 ms of a `fleetctl --version`'s ~180 ms
// (CPU profile), plus the lazy compiles of the functions a run calls. With the cache a run
// starts from the build's bytecode (bench/cli-results.md). Node 20 has no compile cache for
// ES modules (module.enableCompileCache is Node 22), hence CommonJS and node:vm.
//
// The cache is only ever a speed-up: a missing, unreadable, foreign, stale or damaged file
// means a plain compile, never an error. Stale: made from another bundle (V8 itself checks
// only the source length, and runs a cache made from other code of the same length), or for
// the same bundle at another path (V8 keeps the file name the cache was made under and names
// it in stack traces); both are in the first SHA-256 of the header. Damaged: V8 does not
// checksum a code cache (Node 20: --no-verify-snapshot-checksum), and a changed byte in its
// payload crashes the process or runs other code; the header's second SHA-256 is of the
// payload (0.4 ms for the 0.55 MB). Another Node or other V8 flags: V8 rejects it. It lives beside the bundle,
// written by the build, with the bundle's owner and mode: whoever can change it can change
// the code it caches.
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { Module, createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';

/** First bytes of a cache file: format tag, the SHA-256 of the bundle's path and text (keyOf), the SHA-256 of the V8 data after the header. */
const MAGIC = Buffer.from('FCC2');
const HEADER_BYTES = MAGIC.length + 32 + 32;

/** What runBundle did with the cache (tests): used; absent (no readable file); stale (another bundle or path, or not a cache); damaged (its data changed); rejected (by V8: another Node, other flags). */
export type CacheUse = 'used' | 'absent' | 'stale' | 'damaged' | 'rejected';

/** Options of runBundle. */
export interface RunBundleOptions {
  /** After the run (at process exit), write a cache of everything compiled so far here (the build's step; atomic: temp file + rename). */
  produceTo?: string;
  /** The path the bundle will be run from, when it runs from here only to make the cache (the build's staging folder); default `bundlePath`. */
  finalPath?: string;
}

/** What a cache is valid for: SHA-256 of the bundle's path, a NUL, and its text. */
function keyOf(path: string, source: string): Buffer {
  return createHash('sha256').update(path).update('\0').update(source).digest();
}

function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

/**
 * Runs the CommonJS file `bundlePath` as Node would (module wrapper, its own `require`,
 * `__filename`), compiled with the V8 code cache at `cachePath` when that cache was made from
 * this very bundle at this path. Returns how the cache was used; the bundle runs on either way.
 * Errors: those of reading `bundlePath` (ENOENT...) and whatever the bundle throws at load.
 */
export function runBundle(bundlePath: string, cachePath: string, options: RunBundleOptions = {}): CacheUse {
  const source = readFileSync(bundlePath, 'utf8');
  const filename = options.finalPath ?? bundlePath;
  const digest = keyOf(filename, source);
  let cachedData: Buffer | undefined;
  let use: CacheUse = 'absent';
  try {
    const file = readFileSync(cachePath);
    if (!(file.length > HEADER_BYTES && file.subarray(0, MAGIC.length).equals(MAGIC) && file.subarray(MAGIC.length, MAGIC.length + 32).equals(digest))) use = 'stale';
    else if (!file.subarray(MAGIC.length + 32, HEADER_BYTES).equals(sha256(file.subarray(HEADER_BYTES)))) use = 'damaged';
    else cachedData = file.subarray(HEADER_BYTES);
  } catch {
    // no cache (or unreadable): a plain compile
  }
  const script = new Script(Module.wrap(source), { filename, ...(cachedData ? { cachedData } : {}) });
  if (cachedData) use = script.cachedDataRejected ? 'rejected' : 'used';
  if (options.produceTo) {
    const out = options.produceTo;
    process.once('exit', () => {
      const temp = `${out}.${process.pid}.tmp`;
      const data = script.createCachedData();
      writeFileSync(temp, Buffer.concat([MAGIC, digest, sha256(data), data]), { mode: 0o644 });
      renameSync(temp, out);
    });
  }
  const run = script.runInThisContext() as (exports: object, require: NodeJS.Require, module: object, filename: string, dirname: string) => void;
  const module = { exports: {} };
  run.call(module.exports, module.exports, createRequire(bundlePath), module, bundlePath, dirname(bundlePath));
  return use;
}
