// At most `startConcurrency` gateways boot at once: a real gateway needs ~9 s of CPU, and
// twenty booting together on two cores make every one of them slow (and trip their own
// startup timeouts). A slot is held from spawn until the agent leaves `starting`. Waiting
// for a slot is cancellable: a stopped agent leaves the queue at once.

/** A counting semaphore for gateway boots. */
export interface StartPool {
  /** Waits for a slot, in arrival order; resolves with its release (idempotent); rejects with an AbortError once `signal` aborts. */
  acquire(signal?: AbortSignal): Promise<() => void>;
  /** Changes the limit (reload); waiting jobs are admitted if it grew. */
  resize(limit: number): void;
  /** Slots in use and launches waiting, for status and tests. */
  load(): { active: number; waiting: number; limit: number };
}

/** Creates a pool admitting `limit` boots at a time. */
export function createStartPool(limit: number): StartPool {
  let max = Math.max(1, limit);
  let active = 0;
  const waiting: Array<{ admit: () => void }> = [];
  const admitNext = () => {
    while (active < max && waiting.length > 0) {
      active += 1;
      waiting.shift()!.admit();
    }
  };
  return {
    acquire(signal) {
      return new Promise((resolve, reject) => {
        if (signal?.aborted) return reject(abortError());
        let released = false;
        const release = () => {
          if (released) return;
          released = true;
          active -= 1;
          admitNext();
        };
        const entry = {
          admit: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve(release);
          },
        };
        const onAbort = () => {
          const at = waiting.indexOf(entry);
          if (at >= 0) waiting.splice(at, 1);
          reject(abortError());
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        waiting.push(entry);
        admitNext();
      });
    },
    resize(next) {
      max = Math.max(1, next);
      admitNext();
    },
    load: () => ({ active, waiting: waiting.length, limit: max }),
  };
}

/** The rejection of a cancelled wait. */
function abortError(): Error {
  const err = new Error('the launch was cancelled while waiting for a start slot');
  err.name = 'AbortError';
  return err;
}
