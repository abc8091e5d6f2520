// Watching a running gateway apply the openclaw.json fleetd just wrote: its captured output
// (gateway.log, followed from where it ended before the write, across rotations), /startupz
// every round, and openclaw.json.last-good, until plan/reconfigure-verdict.ts has a verdict.
// The verdict is pure; this file only gathers the evidence, with every source passed in.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseReloadLine } from '../plan/reload-lines.js';
import { judge, nextRound, observeLastGood, observeSignal, observeStartup, startEvidence, verdictHardStopMs, type Verdict, type VerdictLimits } from '../plan/reconfigure-verdict.js';
import { followLog } from '../supervise/log-read.js';
import { probeStartup, type StartupProbe, type StartupState } from '../supervise/startup-probe.js';

/** Pause between two probe rounds (ms). */
export const ROUND_MS = 150;
/** Timeout of one /startupz request (ms). */
export const STARTUP_TIMEOUT_MS = 1000;
/** Largest last-good file compared (bytes): openclaw.json is read with the same bound. */
const MAX_LAST_GOOD_BYTES = 16 * 1024 * 1024;

/** What to watch. */
export interface VerifyInput {
  port: number;
  /** The captured output (gateway.log) and its size before the write: only later lines count. */
  logFile: string;
  logOffset: number;
  /** openclaw.json; its `.last-good` sibling is compared with `writtenText`. */
  configPath: string;
  writtenText: string;
  /** /startupz just before the write. */
  baseline: StartupState;
  limits: VerdictLimits;
  /** Aborts the watch (a stop, an exit, a newer reconfigure); resolves with a not-applied verdict then. */
  signal: AbortSignal;
  /** Hears each new phase ("the gateway restarts in-process (gateway.controlUi.basePath)"). */
  onPhase?: (phase: string) => void;
}

/** Where the evidence comes from (real defaults). */
export interface VerifyDeps {
  probeStartup: StartupProbe;
  /** Text of `path` (no symlink followed), undefined when missing or unreadable. */
  readText: (path: string) => Promise<string | undefined>;
  /** Follows a log from a byte offset until the signal aborts (supervise/log-read.ts followLog). */
  follow: (file: string, onChunk: (text: string) => void, signal: AbortSignal, startAt: number) => Promise<void>;
  now: () => number;
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** Reads a small file without following a symlink; undefined when it is not there or not readable. */
export async function readTextNoFollow(path: string): Promise<string | undefined> {
  try {
    const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      const st = await handle.stat();
      if (!st.isFile() || st.size > MAX_LAST_GOOD_BYTES) return undefined;
      return await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch {
    return undefined;
  }
}

/** The real sources. */
export const defaultVerifyDeps: VerifyDeps = {
  probeStartup,
  readText: readTextNoFollow,
  follow: (file, onChunk, signal, startAt) => followLog(file, onChunk, signal, { startAt, pollMs: 50 }),
  now: () => Date.now(),
  sleep: (ms, signal) => sleep(ms, undefined, { signal }).catch(() => undefined),
};

/** Watches until the verdict is in (or the watch is aborted: then not applied, "superseded"). */
export async function verifyReconfigure(input: VerifyInput, deps: VerifyDeps = defaultVerifyDeps): Promise<Verdict & { done: true }> {
  const start = deps.now();
  const ev = startEvidence(start, input.baseline);
  const stopFollow = new AbortController();
  const onAbort = () => stopFollow.abort();
  input.signal.addEventListener('abort', onAbort, { once: true });
  let partial = '';
  const following = deps
    .follow(
      input.logFile,
      (text) => {
        const lines = (partial + text).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          const signal = parseReloadLine(line);
          if (signal) observeSignal(ev, signal, deps.now());
        }
      },
      stopFollow.signal,
      input.logOffset,
    )
    .catch(() => undefined); // the log is one source of several: without it the other two decide
  const hardStop = start + verdictHardStopMs(input.limits);
  let phase = '';
  try {
    for (;;) {
      if (input.signal.aborted) return { done: true, applied: false, why: 'superseded' };
      nextRound(ev);
      observeStartup(ev, await deps.probeStartup(input.port, STARTUP_TIMEOUT_MS), deps.now());
      if (ev.lastGoodRound === undefined && (await deps.readText(`${input.configPath}.last-good`)) === input.writtenText) observeLastGood(ev);
      const now = deps.now();
      const verdict = judge(ev, now, input.limits);
      if (verdict.done) return verdict;
      if (now > hardStop) return { done: true, applied: false, why: `no verdict within ${Math.round(verdictHardStopMs(input.limits) / 1000)} s (${verdict.phase})` };
      if (verdict.phase !== phase) input.onPhase?.((phase = verdict.phase));
      await deps.sleep(ROUND_MS, input.signal);
    }
  } finally {
    input.signal.removeEventListener('abort', onAbort);
    stopFollow.abort();
    await following;
  }
}
