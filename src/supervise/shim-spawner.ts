// fleetd's side of the shim spawner (src/shim/native/spawner.c, which says why and speaks
// the protocol): one small long-lived `fleetd-shim-spawner --spawner` (the fleetd-shim binary
// with that argv[0]) per native shim binary forks and execs the shims, so fleetd (a ~130 MiB
// process) is not forked once per shim. The spawner is started on the first launch, ends when
// fleetd does (its stdin closes; stopSpawners at shutdown; the kernel's parent-death signal
// when fleetd is killed), and is started again on the next launch when it died meanwhile.
//
// A launch given up on (no ready line in time, or cancelled) must never start later: when the
// spawner has reported the shim's pid, fleetd SIGKILLs that shim itself (a stopped or stuck
// spawner could not); when it has not, the request may still wait in the spawner's pipe, so
// the spawner is SIGKILLed and its queued requests die with it (the next launch starts a new
// one). A stopped spawner is thereby replaced at the first launch it does not answer.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { getSystemErrorName } from 'node:util';
import { isSameProcess, readStat, type ProcRef } from './proc.js';
import { signalName } from '../util/signal-name.js';

/** How a shim's launch went, up to its first line on stdout. */
export type FirstLine =
  /** It printed `text` (its first line, or what it printed before closing stdout). */
  | { kind: 'line'; pid: number; text: string }
  /** It ended before printing anything. */
  | { kind: 'gone'; pid: number; code: number | null; signal: NodeJS.Signals | null }
  /** It could not be started: the stderr file, a pipe, the fork or the exec failed, or the spawner itself did (`message`: a phrase such as "the shim spawner (pid 9) exited (SIGKILL)"). */
  | { kind: 'error'; message: string };

/** One shim being launched by a spawner. */
export interface SpawnerLaunch {
  /** Settles once: the first line, its end, or why it could not start. Never rejects. */
  readonly first: Promise<FirstLine>;
  /**
   * Gives the launch up (no ready line in time, or cancelled) so that its shim never runs on:
   * SIGKILL to the shim by fleetd when the spawner reported its pid, else SIGKILL to the
   * spawner (the request may still wait in its pipe). Returns what was done, a phrase for an
   * error message ("killed shim pid 12", "the shim spawner (pid 9) had not started it: killed
   * the spawner"). `first` settles afterwards as usual.
   */
  giveUp(): string;
}

/** What a shim launch needs: the process title (argv[0]), where its stderr goes, its spec (on its stdin). */
export interface SpawnRequest {
  title: string;
  stderrPath: string;
  spec: string;
}

/** A running spawner process and its pending launches. */
class Spawner {
  private readonly child: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<number, (line: FirstLine) => void>();
  /** The shims the spawner reported (`forked`) of launches still pending. */
  private readonly pids = new Map<number, ProcRef>();
  /** Launches given up on before their pid was known: a pid reported later is killed at once. */
  private readonly abandoned = new Set<number>();
  private buffered: Buffer = Buffer.alloc(0);
  private ended: string | null = null;
  /** SIGKILL was sent: it takes no new launch even before its exit is seen (the next launch starts a new spawner). */
  private killed = false;

  constructor(binary: string, onEnd: () => void) {
    // stderr inherited: a spawner's own complaints go to fleetd's log output
    this.child = spawn(binary, ['--spawner'], { argv0: 'fleetd-shim-spawner', cwd: '/', env: {}, stdio: ['pipe', 'pipe', 'inherit'] });
    const end = (why: string) => {
      if (this.ended !== null) return;
      this.ended = why;
      onEnd();
      // a launch that fails here must not leave its shim running on (a forked shim's ready line
      // came through the spawner: it cannot arrive now)
      for (const ref of this.pids.values()) killShim(ref);
      this.pids.clear();
      for (const settle of this.pending.values()) settle({ kind: 'error', message: why });
      this.pending.clear();
    };
    this.child.on('error', (err) => end(`the shim spawner could not be started (${err.message})`));
    // 'close', not 'exit': answers it wrote before exiting are read first
    this.child.on('close', (code, signal) => end(`the shim spawner (pid ${this.child.pid ?? '-'}) exited (${signal ?? `code ${code}`})`));
    this.child.stdin!.on('error', () => undefined); // EPIPE once it died: its exit says more
    this.child.stdout!.on('data', (chunk: Buffer) => this.read(chunk));
    // an idle spawner must not keep fleetd (or a test) alive; a launch in flight does (holding())
    this.child.unref();
    (this.child.stdin as unknown as Socket).unref();
    this.holding();
  }

  /** Keeps the event loop alive through stdout while a launch waits for its answer, and only then. */
  private holding(): void {
    const out = this.child.stdout as unknown as Socket;
    if (this.pending.size > 0) out.ref();
    else out.unref();
  }

  /** Whether it takes new launches: not once it ended, nor once fleetd has killed it (its 'close' may come later). */
  get alive(): boolean {
    return this.ended === null && !this.killed;
  }

  launch(request: SpawnRequest): SpawnerLaunch {
    const id = this.nextId++;
    const first = new Promise<FirstLine>((resolve) => {
      if (this.ended !== null) return resolve({ kind: 'error', message: this.ended });
      this.pending.set(id, resolve);
      this.holding();
    });
    if (this.ended === null) {
      const title = Buffer.from(request.title);
      const err = Buffer.from(request.stderrPath);
      const spec = Buffer.from(request.spec);
      this.child.stdin!.write(Buffer.concat([Buffer.from(`spawn ${id} ${title.length} ${err.length} ${spec.length}\n`), title, err, spec]));
    }
    return { first, giveUp: () => this.giveUp(id) };
  }

  private giveUp(id: number): string {
    const ref = this.pids.get(id);
    if (ref !== undefined) {
      killShim(ref);
      // a stopped spawner would answer no later launch either (nor reap this shim)
      const state = this.child.pid !== undefined ? readStat(this.child.pid)?.state : undefined;
      if (state === 'T' || state === 't') {
        this.kill();
        return `killed shim pid ${ref.pid} and the stopped shim spawner (pid ${this.child.pid})`;
      }
      return `killed shim pid ${ref.pid}`;
    }
    if (this.ended !== null) return 'it was never started';
    this.abandoned.add(id);
    this.kill();
    return `the shim spawner (pid ${this.child.pid ?? '-'}) had not started it: killed the spawner`;
  }

  /** SIGKILL to the spawner (works on a stopped one too); its shims run on, its queued requests die. */
  kill(): void {
    if (this.ended !== null) return;
    this.killed = true;
    this.child.kill('SIGKILL');
  }

  /** Parses answers: `forked ID PID\n`, `ready ID PID LEN\n<LEN bytes>`, `gone ID PID CODE SIGNAL\n`, `error ID ERRNO\n`. */
  private read(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    for (;;) {
      const nl = this.buffered.indexOf(0x0a);
      if (nl < 0) return;
      const words = this.buffered.subarray(0, nl).toString('latin1').split(' ');
      const id = Number(words[1]);
      let settled: FirstLine;
      let used = nl + 1;
      if (words[0] === 'forked' && words.length === 3) {
        const pid = Number(words[2]);
        this.buffered = this.buffered.subarray(used);
        // its start time now (it has exec'd and is not reaped before its answer): a kill later hits this shim only
        const ref = { pid, startTime: readStat(pid)?.startTime ?? '' };
        if (this.abandoned.delete(id)) killShim(ref);
        else if (this.pending.has(id)) this.pids.set(id, ref);
        continue;
      }
      if (words[0] === 'ready' && words.length === 4) {
        const len = Number(words[3]);
        if (this.buffered.length < used + len) return;
        settled = { kind: 'line', pid: Number(words[2]), text: this.buffered.subarray(used, used + len).toString('utf8').replace(/\n$/, '') };
        used += len;
      } else if (words[0] === 'gone' && words.length === 5) {
        const code = Number(words[3]);
        const signal = Number(words[4]);
        settled = { kind: 'gone', pid: Number(words[2]), code: code >= 0 ? code : null, signal: signal > 0 ? signalName(signal) : null };
      } else if (words[0] === 'error' && words.length === 3) {
        const errno = Number(words[2]);
        const name = Number.isInteger(errno) && errno > 0 ? getSystemErrorName(-errno) : `errno ${errno}`;
        settled = { kind: 'error', message: `its stderr file, a pipe, the fork or the exec failed (${name})` };
      } else {
        this.child.kill('SIGKILL'); // a spawner that says something else is not ours to trust
        return;
      }
      this.buffered = this.buffered.subarray(used);
      const settle = this.pending.get(id);
      this.pending.delete(id);
      this.pids.delete(id);
      this.abandoned.delete(id);
      settle?.(settled);
      this.holding();
    }
  }
}

/** SIGKILL to a shim a spawner forked, if `ref` still names it (pid and start time). */
function killShim(ref: ProcRef): void {
  if (!isSameProcess(ref)) return;
  try {
    process.kill(ref.pid, 'SIGKILL');
  } catch {
    // ended meanwhile
  }
}

const spawners = new Map<string, Spawner>();

/**
 * Launches a native shim through the spawner of `binary` (the fleetd-shim executable),
 * starting that spawner first when none runs. The shim is started as fleetd started it
 * itself before: `request.title` as argv[0], its own session, cwd /, no environment, the
 * spec on its stdin, stderr truncated into `request.stderrPath` (0600).
 */
export function launchViaSpawner(binary: string, request: SpawnRequest): SpawnerLaunch {
  let s = spawners.get(binary);
  if (!s || !s.alive) {
    const fresh: Spawner = new Spawner(binary, () => {
      if (spawners.get(binary) === fresh) spawners.delete(binary);
    });
    spawners.set(binary, fresh);
    s = fresh;
  }
  return s.launch(request);
}

/** SIGKILLs every spawner (fleetd's shutdown: a stopped spawner would not see its stdin close); the shims run on. */
export function stopSpawners(): void {
  for (const s of spawners.values()) s.kill();
  spawners.clear();
}
