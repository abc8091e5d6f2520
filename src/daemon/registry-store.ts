// The registry as the running fleetd holds it: one in-memory copy, authoritative while
// fleetd holds the state-dir lock, written to registry.json behind the changes. Writes are
// coalesced (changes that arrive while a write is under way go out together in the next
// one: one fsynced file write per batch, not per agent event) and retried with backoff when
// the disk refuses them (full, read-only, I/O error): the change is kept in memory, and
// `behind()` says since when and why the file lags, for `fleetctl status`.
//
// Mutations are synchronous and take effect at once, in call order (so "stop wins" and
// "the block is taken" hold from the moment the call returns); each is validated before it
// replaces the memory copy, so a buggy mutation changes nothing. Work that must await
// something (port probes before a block allocation) computes first and mutates after.
import { FleetError } from '../errors.js';
import type { RegistryEntry, RegistryFile } from '../plan/registry-schema.js';
import { applyRegistryMutation, type EntryBefore, type RegistryMutation } from './registry-draft.js';
import type { Registry } from './registry.js';

export type { RegistryMutation };

/** Why the file lags behind memory; null while it does not. */
export interface RegistryLag {
  /** epoch ms of the first failed write of the current streak. */
  since: number;
  /** The last write error, for people. */
  error: string;
  /** epoch ms of the next write attempt. */
  retryAt: number;
}

/** Dependencies of the store (real defaults in createRegistryStore). */
export interface RegistryStoreDeps {
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
  /** Retry delays after a failed write: first, and cap (ms). */
  retryMs?: { first: number; max: number };
}

/** The daemon's registry. */
export interface RegistryStore {
  /** Reads registry.json once, at start-up (REGISTRY_INVALID: fleetd refuses to start, the file is left alone). */
  load(): Promise<RegistryFile>;
  /** The in-memory registry; never mutate it (use update/record). */
  current(): Readonly<RegistryFile>;
  /** The entry of one address. */
  entry(address: string): Readonly<RegistryEntry> | undefined;
  /** A shallow copy of the agents (entries shared, never edited in place): a draft to add to, without handing out the memory copy (which would make the next change copy it again). */
  agentsCopy(): Record<string, RegistryEntry>;
  /**
   * Applies `mutate` now (INTERNAL, nothing changed, when the result is invalid), then
   * resolves once it is on disk. A failed write rejects with REGISTRY_WRITE_FAILED: the
   * change stays in memory and is written by a later retry.
   */
  update(mutate: RegistryMutation): Promise<void>;
  /** Applies `mutate` now like update, without waiting for the disk (process records, hashes). */
  record(mutate: RegistryMutation): void;
  /** Resolves once everything in memory is on disk; rejects with the last write error. */
  flush(): Promise<void>;
  /**
   * Every gateway and hooks token of the registry (secrets no log line or answer may carry):
   * the same array until a token is added, changed or removed, so a reader comparing by
   * identity does nothing per call.
   */
  secrets(): readonly string[];
  /** Whether registry.json lags behind memory, and why. */
  behind(): RegistryLag | null;
  /** Stops the retry timer (fleetd exits). */
  close(): void;
}

/** Creates the store over `registry` (the file access with its cross-process lock). */
export function createRegistryStore(registry: Registry, deps: RegistryStoreDeps = {}): RegistryStore {
  const now = deps.now ?? Date.now;
  const setTimer = deps.setTimer ?? ((fn: () => void, ms: number) => setTimeout(fn, ms).unref());
  const clearTimer = deps.clearTimer ?? ((h: unknown) => clearTimeout(h as NodeJS.Timeout));
  const retry = deps.retryMs ?? { first: 1000, max: 30_000 };
  let mem: RegistryFile = { version: 1, agents: {} };
  let dirty = false;
  let writing = false;
  let waiters: Array<{ resolve: () => void; reject: (err: unknown) => void }> = [];
  let lag: RegistryLag | null = null;
  let failures = 0;
  let retryTimer: unknown = null;
  let closed = false;

  // The token list was made again by its reader (run.ts) whenever the registry changed, a
  // walk of every entry after each of the ~4 changes per agent of a start: O(N^2) per start
  // of the fleet (~20 ms of fleetd's main thread at N = 200, plus the redaction matcher's
  // comparison of the whole list each time). It is made again only when a change touched an
  // entry's tokens.
  /** The token list of `mem`, null until asked for after a change of tokens. */
  let tokens: readonly string[] | null = null;

  // Whether `mem` was handed out (current(), load(), a write's snapshot) since its last change.
  // While it was not, the next change edits it in place (registry-draft.ts `inPlace`): a
  // first start at N = 200 makes ~800 changes, and copying the 200 keys for each was ~100 ms
  // of fleetd's main thread. Once handed out, it is copied before it changes, so a holder
  // keeps the registry as it was (a write in flight serializes its snapshot later).
  let shared = true;

  /** Applies one mutation (to the entries it touches), validates it, and makes it the memory copy. */
  function apply(mutate: RegistryMutation): void {
    mem = applyRegistryMutation(
      mem,
      mutate,
      (touched, before, after) => {
        if (tokens !== null && tokensMayDiffer(before, after, touched)) tokens = null;
      },
      !shared,
    );
    shared = false;
    dirty = true;
  }

  /** The memory copy, for a holder: the next change copies it first. */
  function handOut(): RegistryFile {
    shared = true;
    return mem;
  }

  /** Starts a write of the memory copy unless one is under way or a retry is pending. */
  function kick(): void {
    if (writing || retryTimer !== null || !dirty || closed) return;
    writing = true;
    dirty = false;
    const batch = waiters;
    waiters = [];
    const snapshot = handOut(); // kept as it is: the next change copies the memory copy first
    void registry
      .replace(snapshot.agents) // validated as each change was applied (registry-draft.ts)
      .then(
        () => {
          lag = null;
          failures = 0;
          for (const w of batch) w.resolve();
        },
        (err: unknown) => {
          dirty = true;
          failures += 1;
          const delay = Math.min(retry.max, retry.first * 2 ** (failures - 1));
          const message = err instanceof Error ? err.message : String(err);
          lag = { since: lag?.since ?? now(), error: message, retryAt: now() + delay };
          const failed = new FleetError('REGISTRY_WRITE_FAILED', `${registry.path} could not be written (${message}); the change is kept in memory and written again in ${Math.round(delay / 1000)} s; \`fleetctl status\` shows when it caught up`, { cause: err, transient: true });
          for (const w of batch) w.reject(failed);
          retryTimer = setTimer(() => {
            retryTimer = null;
            kick();
          }, delay);
        },
      )
      .finally(() => {
        writing = false;
        kick();
      });
  }

  // A caller waiting for the disk gets an attempt now, not at the next retry: the write that
  // may be under way took its waiters with it, so this one joins the next (forced) write.
  /** A promise for a write that starts after now and so covers everything in memory now. */
  function durable(): Promise<void> {
    if (!dirty && !writing && lag === null) return Promise.resolve();
    const done = new Promise<void>((resolve, reject) => waiters.push({ resolve, reject }));
    dirty = true;
    if (retryTimer !== null) {
      clearTimer(retryTimer);
      retryTimer = null;
    }
    kick();
    return done;
  }

  return {
    async load() {
      mem = await registry.read();
      tokens = null;
      return handOut();
    },
    current: handOut,
    entry: (address) => (Object.hasOwn(mem.agents, address) ? mem.agents[address] : undefined),
    agentsCopy: () => ({ ...mem.agents }),
    update(mutate) {
      try {
        apply(mutate);
      } catch (err) {
        return Promise.reject(err);
      }
      return durable();
    },
    record(mutate) {
      apply(mutate);
      kick();
    },
    flush: () => durable(),
    secrets: () => (tokens ??= Object.values(mem.agents).flatMap((entry) => (entry.hooksToken ? [entry.token, entry.hooksToken] : [entry.token]))),
    behind: () => (lag ? { ...lag } : null),
    close() {
      closed = true;
      if (retryTimer !== null) clearTimer(retryTimer);
      retryTimer = null;
    },
  };
}

/** Whether an entry's tokens may differ between before and `after`, given the entries touched (null: any). */
function tokensMayDiffer(before: EntryBefore, after: Readonly<Record<string, RegistryEntry>>, touched: ReadonlySet<string> | null): boolean {
  if (touched === null) return true;
  for (const key of touched) {
    const was = before(key);
    const is = Object.hasOwn(after, key) ? after[key] : undefined;
    if (was?.token !== is?.token || was?.hooksToken !== is?.hooksToken) return true;
  }
  return false;
}
