// Turns callbacks (log chunks, install progress) into an async iterable the socket server
// can stream as NDJSON, with a bound on what waits for a slow reader.

/** A queue fed by push() and read with for-await; ends after end() once drained. */
export interface PushStream<T> extends AsyncIterable<T> {
  push(...items: T[]): void;
  end(): void;
  /** Items waiting to be read. */
  readonly size: number;
}

/** Creates a stream; past `limit` waiting items the oldest are replaced by `onOverflow(dropped)`. */
export function createPushStream<T>(options: { limit?: number; onOverflow?: (dropped: number) => T; signal?: AbortSignal } = {}): PushStream<T> {
  const items: T[] = [];
  let ended = false;
  let marker: T | undefined;
  let markerCount = 0;
  let wake: (() => void) | undefined;
  const poke = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  options.signal?.addEventListener('abort', () => ((ended = true), poke()), { once: true });
  return {
    push(...more: T[]) {
      items.push(...more);
      const limit = options.limit ?? Infinity;
      if (items.length > limit) {
        if (options.onOverflow) {
          // one marker at the head counts everything dropped since the reader last read:
          // a marker still unread is folded into the new one, not counted as one item
          let dropped = 0;
          if (marker !== undefined && items[0] === marker) {
            items.shift();
            dropped = markerCount;
          }
          const excess = items.length - (limit - 1); // the marker takes one of the `limit` places
          items.splice(0, excess);
          markerCount = dropped + excess;
          marker = options.onOverflow(markerCount);
          items.unshift(marker);
        } else {
          items.splice(0, items.length - limit);
        }
      }
      poke();
    },
    end() {
      ended = true;
      poke();
    },
    get size() {
      return items.length;
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        while (items.length > 0) yield items.shift()!;
        if (ended || options.signal?.aborted) return;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
}
