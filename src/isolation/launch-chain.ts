// The argv prefixes that isolate a gateway before it executes anything (pure). Outermost
// first (layout decision 2), each optional:
//   [shim: built elsewhere] -> join the agent's cgroup(s) -> drop to the agent's user
//   -> enable kernel same-page merging -> the gateway's own argv
// Every step is an exec of the next one in the same process: the pid fleetd (or the shim)
// spawned is the gateway's pid, and the cgroup is joined before the first fork, so no
// child can ever start outside it. No step adds environment variables: the gateway's env
// is exactly the clean one fleetd built (dash would export PWD: the join step unsets it).
//
// The join is the one step a native shim does itself: its child writes its own pid to each
// cgroup.procs between fork and execve (src/shim/native/fleetd-shim.c, join_cgroups), so a
// launch carries the files (LaunchSpec.cgroupProcs, the shim spec's cgroupProcs) apart from
// its argv (launchAfterJoin). Only a spawner that cannot run code in its child before the
// exec (Node's child_process: the Node shim, spawnProcess) puts the `/bin/sh` step of
// cgroupJoinPrefix in front (withCgroupJoin). The step cost one exec of dash per launch:
// ~0.7 ms of the host's CPU per start or restart (dash's loader; by hand, 200 spawns each,
// 2026-12-02), on the path of a kill -9 to the new gateway listening.
/** `/bin/sh`: POSIX shell used for the cgroup join (dash or bash; both exec in place). */
export const SHELL = '/bin/sh';

/** $0 of the join shell: names the step in an error such as "cannot create .../cgroup.procs". */
export const JOIN_NAME = 'fleetd-join-cgroup';

/** Exit code of a wrapper step that failed (cgroup not joinable): 126, "cannot execute". */
export const WRAPPER_FAILED_EXIT = 126;

/** What a failed join says on the gateway's stderr, before the file: `fleetd-join-cgroup: cannot write <file>: <reason>` (the native shim's words; the shell step names the file after dash's own line). */
export const JOIN_FAILED_PREFIX = `${JOIN_NAME}: cannot write `;

// Writes its own pid ($$) to each cgroup.procs given before "--", then execs the rest.
// `echo` is a shell builtin: one write(2) of "<pid>\n", as the kernel wants it. dash's own
// message names the file only when the open fails ("cannot create <file>: ..."); a write the
// kernel refuses reads "echo: echo: I/O error" (EINVAL reported as EIO): the step says which file.
const JOIN_LOOP = `while [ "$#" -gt 0 ] && [ "$1" != -- ]; do echo $$ > "$1" || { echo "${JOIN_FAILED_PREFIX}$1" >&2; exit ${WRAPPER_FAILED_EXIT}; }; shift; done; shift;`;

/** The reason of a launch that ended at its cgroup join (exit 126 and the join's line in `stderr`), or undefined. */
export function joinFailure(code: number | null, stderr: string): string | undefined {
  if (code !== WRAPPER_FAILED_EXIT) return undefined;
  const lines = stderr.split('\n').filter((line) => line.startsWith(`${JOIN_NAME}: `));
  const named = lines.find((line) => line.startsWith(JOIN_FAILED_PREFIX));
  // the shell step's own line ("fleetd-join-cgroup: 1: cannot create <file>: <reason>") says why
  const shell = lines.find((line) => line !== named)?.replace(/^[^:]+: \d+: /, '');
  const what = named === undefined ? shell : named.slice(JOIN_NAME.length + 2) + (/\/cgroup\.procs$/.test(named) && shell ? `: ${shell}` : '');
  return what === undefined ? undefined : `it could not join its cgroup (${what})`;
}

// Two fixed texts: built per launch they were one copy of ~130 characters per agent for as
// long as its spec lives (26 KB of fleetd's heap at 200 agents, 2026-12-02 heap snapshot).
const JOIN_SCRIPTS = { keep: `${JOIN_LOOP} exec "$@"`, unset: `${JOIN_LOOP} unset PWD; exec "$@"` } as const;

/** The `sh -c` program of the join step; `keepPwd` when the gateway's own env sets PWD. */
export function joinScript(keepPwd: boolean): string {
  return keepPwd ? JOIN_SCRIPTS.keep : JOIN_SCRIPTS.unset;
}

/** argv prefix that moves the process into every cgroup whose cgroup.procs is listed; [] for none. */
export function cgroupJoinPrefix(procsFiles: readonly string[], env: Readonly<Record<string, string>>): string[] {
  if (procsFiles.length === 0) return [];
  for (const file of procsFiles) {
    if (!file.startsWith('/') || !file.endsWith('/cgroup.procs')) throw new Error(`internal: not a cgroup.procs path: ${JSON.stringify(file)}`);
  }
  return [SHELL, '-c', joinScript(Object.hasOwn(env, 'PWD')), JOIN_NAME, ...procsFiles, '--'];
}

/** Who the gateway runs as: numeric ids (no name lookup at exec time) and setpriv's path. */
export interface RunAs {
  uid: number;
  gid: number;
  /** Absolute path of setpriv (util-linux). */
  setpriv: string;
}

// `--inh-caps=-all --ambient-caps=-all` goes beyond layout decision 2 on purpose: the
// kernel clears capabilities on a uid change only when it involves uid 0. A fleetd running
// as user `fleetd` with AmbientCapabilities=CAP_SETUID ... (the systemd alternative to
// root) would otherwise hand CAP_SETUID/CAP_SETGID on to every tenant gateway (measured:
// CapEff c0 in the gateway). With a root fleetd both flags change nothing.
/** argv prefix dropping to `runAs` with its supplementary groups (initgroups of the uid's passwd name), no capability kept. */
export function userPrefix(runAs: RunAs): string[] {
  if (!Number.isInteger(runAs.uid) || runAs.uid <= 0 || !Number.isInteger(runAs.gid) || runAs.gid < 0) {
    throw new Error(`internal: refusing to run as uid ${runAs.uid} gid ${runAs.gid}`);
  }
  return [runAs.setpriv, '--reuid', String(runAs.uid), '--regid', String(runAs.gid), '--init-groups', '--inh-caps=-all', '--ambient-caps=-all', '--'];
}

/** prctl option numbers (include/uapi/linux/prctl.h, Linux 6.4+). */
export const PR_SET_MEMORY_MERGE = 67;
export const PR_GET_MEMORY_MERGE = 68;

/** Syscall number of prctl per Node `process.arch` (for perl's syscall(); python uses libc's prctl). */
export const PRCTL_SYSCALL: Readonly<Record<string, number>> = {
  x64: 157,
  ia32: 172,
  arm64: 167,
  arm: 172,
  riscv64: 167,
  loong64: 167,
  ppc64: 171,
  s390x: 172,
};

/** An interpreter able to call prctl without a compiler. */
export type KsmTool = { kind: 'perl'; path: string; syscall: number } | { kind: 'python3'; path: string };

// A failed prctl is reported on stderr (the gateway log) and the gateway runs anyway:
// merging saves memory, it is never a reason not to run.
/** The program text of the KSM step for `tool` (exported for the detection probe and tests). */
export function ksmProgram(tool: KsmTool): string {
  if (tool.kind === 'perl') {
    return (
      `syscall(${tool.syscall}, ${PR_SET_MEMORY_MERGE}, 1, 0, 0, 0) == 0 or print STDERR "fleetd-ksm: prctl(PR_SET_MEMORY_MERGE) failed: $!; running without same-page merging\\n"; ` +
      `exec { $ARGV[0] } @ARGV; print STDERR "fleetd-ksm: cannot execute $ARGV[0]: $!\\n"; exit 127;`
    );
  }
  return [
    'import ctypes, os, sys',
    'libc = ctypes.CDLL(None, use_errno=True)',
    `if libc.prctl(${PR_SET_MEMORY_MERGE}, 1, 0, 0, 0) != 0:`,
    '    sys.stderr.write("fleetd-ksm: prctl(PR_SET_MEMORY_MERGE) failed: %s; running without same-page merging\\n" % os.strerror(ctypes.get_errno()))',
    'os.execvp(sys.argv[1], sys.argv[1:])',
  ].join('\n');
}

/** argv prefix enabling same-page merging for the process (inherited across fork and exec). */
export function ksmPrefix(tool: KsmTool): string[] {
  return tool.kind === 'perl' ? [tool.path, '-e', ksmProgram(tool), '--'] : [tool.path, '-c', ksmProgram(tool)];
}

/** What isolates one gateway; each part optional. */
export interface ChainInput {
  /** The gateway's own argv (heap flag already placed, see heap-size.ts). */
  argv: readonly string[];
  /** The gateway's complete env (only read: PWD decides the join script). */
  env: Readonly<Record<string, string>>;
  /** cgroup.procs files to join (one per v1 hierarchy, one on v2). */
  cgroupProcs?: readonly string[];
  runAs?: RunAs;
  ksm?: KsmTool;
}

/** The full argv after the shim: [join cgroup] [setpriv] [ksm] gateway (decision 2 order). */
export function buildLaunchChain(input: ChainInput): string[] {
  return withCgroupJoin(launchAfterJoin(input), input.cgroupProcs, input.env);
}

/** The argv after the cgroup join: [setpriv] [ksm] gateway (what a shim that joins by itself executes). */
export function launchAfterJoin(input: Omit<ChainInput, 'cgroupProcs'>): string[] {
  if (input.argv.length === 0) throw new Error('internal: empty gateway argv');
  return [...(input.runAs ? userPrefix(input.runAs) : []), ...(input.ksm ? ksmPrefix(input.ksm) : []), ...input.argv];
}

/** `argv` behind the `/bin/sh` join step of `cgroupProcs` (cgroupJoinPrefix), for a spawner that cannot join in its child; `argv` itself for none. */
export function withCgroupJoin(argv: readonly string[], cgroupProcs: readonly string[] | undefined, env: Readonly<Record<string, string>>): string[] {
  return [...cgroupJoinPrefix(cgroupProcs ?? [], env), ...argv];
}
