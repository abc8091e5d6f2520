// At most `startConcurrency` gateways boot at once: a real gateway needs ~9 s of CPU, and
// twenty booting together on two cores make every one of them slow (and trip their own
// startup timeouts). A slot is held from spawn until the agent leaves `starting`.

/** A counting semaphore for gateway boots. */
export interface StartPool {
  /** Runs `job` when a slot is free; the slot is held until `job` settles. */
  run<T>(job: () => Promise<T>): Promise<T>;
  /** Waits for a slot; resolves with the function that gives it back (idempotent). */
  acquire(): Promise<() => void>;
  /** Changes the limit (reload); waiting jobs are admitted if it grew. */
  resize(limit: number): void;
}

/** Creates a pool admitting `limit` jobs at a time, in arrival order. */
export function createStartPool(limit: number): StartPool {
  let max = Math.max(1, limit);
  let active = 0;
  const waiting: Array<() => void> = [];
  const admit = () => {
    while (active < max && waiting.length > 0) {
      active += 1;
      waiting.shift()!();
    }
  };
  return {
    async acquire(): Promise<() => void> {
      await new Promise<void>((resolve) => {
        waiting.push(resolve);
        admit();
      });
      let released = false;
      return () => {
        if (released) return;
        released = true;
        active -= 1;
        admit();
      };
    },
    async run<T>(job: () => Promise<T>): Promise<T> {
      const release = await this.acquire();
      try {
        return await job();
      } finally {
        release();
      }
    },
    resize(limit: number) {
      max = Math.max(1, limit);
      admit();
    },
  };
}
