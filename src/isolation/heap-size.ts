// V8 heap sizing under a memory limit (pure). Without it Node sizes its old space from the
// host's RAM (about 4 GiB on a big host, OpenClaw's docs say), far above a cgroup limit:
// V8 then sees no reason to collect and the kernel OOM killer ends the gateway instead.
//
// Ratio: old space = 50 % of the agent's memory limit. That is the share OpenClaw's own
// managed-service installer gives the gateway of its capacity (docs/cli/gateway/service.md,
// "Managed Gateway heap sizing": 50 % target, 75 % hard cap to keep native headroom). The
// other half is needed: the limit covers the whole gateway tree (main process, spawn
// broker, sqlite worker process), and outside old space a gateway holds code, new space,
// native buffers and SQLite pages; measured here (bench/density.mjs) that is several
// hundred MB per tree whatever the heap cap.
//
// Placement: for a managed runtime the argv is [node, openclaw.mjs, ...], so the flag goes
// right after node (OpenClaw's docs prefer a direct Node argument: NODE_OPTIONS also reaches
// every Node child). For any other command fleetd cannot know where node starts, so the
// flag is appended to NODE_OPTIONS. Nothing is added when the manifest already sizes the
// heap itself (a heap flag in NODE_OPTIONS or in the command's argv).
import { basename } from 'node:path';

/** Share of the memory limit given to V8's old space. */
export const HEAP_SHARE_OF_LIMIT = 0.5;

/** Smallest old space fleetd sets, MiB (V8 refuses to run much below this). */
export const MIN_HEAP_MIB = 16;

/** Node/V8 flags by which an operator sizes the heap: their presence disables fleetd's own. */
const HEAP_FLAG = /(^|\s)--max[-_](old[-_]space[-_]size|old[-_]space[-_]size[-_]percentage|heap[-_]size)(=|\s|$)/;

/** `--max-old-space-size` in MiB for a memory limit in bytes (HEAP_SHARE_OF_LIMIT, at least MIN_HEAP_MIB). */
export function heapMiBFor(limitBytes: number): number {
  return Math.max(MIN_HEAP_MIB, Math.floor((limitBytes * HEAP_SHARE_OF_LIMIT) / (1024 * 1024)));
}

/** True for an argv[0] that is a Node binary (`node`, `/x/bin/node`, `node24`). */
export function isNodeBinary(file: string): boolean {
  return /^node(\d+)?$/.test(basename(file));
}

/** True when `argv` or env NODE_OPTIONS already sizes the heap. */
export function heapAlreadySized(argv: readonly string[], env: Readonly<Record<string, string>>): boolean {
  return HEAP_FLAG.test(env.NODE_OPTIONS ?? '') || argv.some((arg) => HEAP_FLAG.test(arg));
}

/** A gateway's argv and env with the heap sized under the limit; unchanged when there is no limit or the manifest sized it. */
export function withHeapSize(
  argv: readonly string[],
  env: Readonly<Record<string, string>>,
  limitBytes: number | undefined,
): { argv: string[]; env: Record<string, string>; heapMiB?: number; placement?: 'argv' | 'NODE_OPTIONS' } {
  if (limitBytes === undefined || heapAlreadySized(argv, env)) return { argv: [...argv], env: { ...env } };
  const heapMiB = heapMiBFor(limitBytes);
  const flag = `--max-old-space-size=${heapMiB}`;
  const [first, ...rest] = argv;
  if (first !== undefined && isNodeBinary(first)) {
    return { argv: [first, flag, ...rest], env: { ...env }, heapMiB, placement: 'argv' };
  }
  const options = env.NODE_OPTIONS?.trim();
  return { argv: [...argv], env: { ...env, NODE_OPTIONS: options ? `${options} ${flag}` : flag }, heapMiB, placement: 'NODE_OPTIONS' };
}
