// Kernel same-page merging (KSM) for a gateway, opt-in per agent (`memory: { merge: true }`).
// prctl(PR_SET_MEMORY_MERGE) (Linux 6.4+) marks every mapping of the process mergeable,
// and the flag survives fork and exec, so the launch chain sets it in a tiny wrapper just
// before exec'ing the gateway. No compiler is needed: perl's syscall() (with prctl's
// number for this CPU) or python3's ctypes call it. ksmd only merges while
// /sys/kernel/mm/ksm/run is 1: fleetd reports that setting, it does not change it.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { PR_GET_MEMORY_MERGE, PRCTL_SYSCALL, type KsmTool } from './launch-chain.js';
import { findSystemTool } from './system-tools.js';

/** What the host offers for KSM. */
export interface KsmSupport {
  /** The wrapper can mark a gateway mergeable (kernel support + a tool). */
  usable: boolean;
  /** ksmd scans (/sys/kernel/mm/ksm/run = 1). */
  running: boolean;
  tool?: KsmTool;
  /** The state in words, for the start-up log and status. */
  words: string;
}

/** Host facts detectKsm reads (real by default). */
export interface KsmDeps {
  readFile(path: string): string | undefined;
  findTool(name: string): string | undefined;
  /** Runs the probe program with `tool`; returns its stdout. */
  probe(tool: KsmTool, program: string): string;
  arch: string;
  release: string;
}

const realKsmDeps: KsmDeps = {
  readFile: (path) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  },
  findTool: findSystemTool,
  probe: (tool, program) => spawnSync(tool.path, tool.kind === 'perl' ? ['-e', program] : ['-c', program], { encoding: 'utf8', env: {}, timeout: 10_000 }).stdout ?? '',
  arch: process.arch,
  release: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
};

/** Program asking PR_GET_MEMORY_MERGE: prints "OK <0|1>" or "ERR <errno>". */
export function ksmProbeProgram(tool: KsmTool): string {
  if (tool.kind === 'perl') return `my $r = syscall(${tool.syscall}, ${PR_GET_MEMORY_MERGE}, 0, 0, 0, 0); print $r < 0 ? "ERR " . ($! + 0) : "OK $r";`;
  return `import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nr = libc.prctl(${PR_GET_MEMORY_MERGE}, 0, 0, 0, 0)\nprint("ERR %d" % ctypes.get_errno() if r < 0 else "OK %d" % r)`;
}

/** Picks perl (prctl's syscall number known for this arch) or python3 from the system folders. */
export function pickKsmTool(deps: Pick<KsmDeps, 'findTool' | 'arch'>): KsmTool | undefined {
  const perl = deps.findTool('perl');
  const nr = PRCTL_SYSCALL[deps.arch];
  if (perl !== undefined && nr !== undefined) return { kind: 'perl', path: perl, syscall: nr };
  const python = deps.findTool('python3');
  return python !== undefined ? { kind: 'python3', path: python } : undefined;
}

/** What KSM can do here, and why not when it cannot. */
export function detectKsm(deps: KsmDeps = realKsmDeps): KsmSupport {
  const run = deps.readFile('/sys/kernel/mm/ksm/run')?.trim();
  if (run === undefined) return { usable: false, running: false, words: 'unavailable: this kernel has no KSM (/sys/kernel/mm/ksm is missing; CONFIG_KSM)' };
  const tool = pickKsmTool(deps);
  if (!tool) return { usable: false, running: false, words: 'unavailable: neither perl nor python3 is installed in /usr/bin or /bin to call prctl (install perl-base)' };
  const answer = deps.probe(tool, ksmProbeProgram(tool)).trim();
  if (!answer.startsWith('OK')) {
    return { usable: false, running: false, words: `unavailable: kernel ${deps.release} does not support prctl(PR_SET_MEMORY_MERGE) (Linux 6.4 or later; probe said ${JSON.stringify(answer)})` };
  }
  const running = run === '1';
  const how = `${tool.kind} prctl wrapper`;
  const words = running
    ? `on (${how}; ksmd running)`
    : `requested but idle: ksmd is off (/sys/kernel/mm/ksm/run = ${run}), nothing is merged until it runs: echo 1 > /sys/kernel/mm/ksm/run (${how})`;
  return { usable: true, running, tool, words };
}

/** /proc/<pid>/ksm_stat and ksm_merging_pages of one process; undefined when gone. */
export interface KsmProcessStat {
  /** prctl(PR_SET_MEMORY_MERGE) is on for it (ksm_merge_any). */
  mergeAny: boolean;
  mergingPages: number;
  /** Bytes saved minus the cost of KSM's metadata (ksm_process_profit). */
  profit: number;
}

/** Reads a process's KSM state. */
export function readKsmStat(pid: number): KsmProcessStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/ksm_stat`, 'utf8');
  } catch {
    return undefined;
  }
  const num = (key: string) => Number(new RegExp(`^${key}\\s+(-?\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  return { mergeAny: /^ksm_merge_any:\s*yes$/m.test(text), mergingPages: num('ksm_merging_pages'), profit: num('ksm_process_profit') };
}

/** Turns ksmd on (1) or off (0): a host-wide setting, for the operator (and benchmarks), never done silently. */
export function setKsmRun(value: 0 | 1): void {
  writeFileSync('/sys/kernel/mm/ksm/run', String(value));
}

/** CPU time ksmd used so far, clock ticks (utime + stime of the kernel thread); undefined when not found. */
export function ksmdCpuTicks(): number | undefined {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    if (!stat.includes('(ksmd)')) continue;
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]); // fields 14 and 15
  }
  return undefined;
}
