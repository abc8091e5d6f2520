// fleetd's event bus: a bounded ring buffer of recent events (for `since` cursors and a
// backlog) plus live subscribers (`GET /v1/events?follow=1`). Publishing never blocks and
// never throws: a subscriber that cannot keep up loses the oldest events it has not read
// and is told how many (`events.dropped`), fleetd's memory stays bounded either way.
import type { FleetEvent, FleetEventInput } from '../protocol/events.js';
import { merge } from '../util/merge.js';
import { createPushStream } from '../util/push-stream.js';

/** Events kept for cursors and backlogs. */
export const DEFAULT_EVENT_CAPACITY = 2000;

/** Events a follower may have waiting before the oldest are dropped. */
export const MAX_PENDING_EVENTS = 5000;

/** Options of createEventBus. */
export interface EventBusOptions {
  capacity?: number;
  now?: () => number;
  /**
   * The numbering starts after this (default 0: 1, 2, ...). fleetd passes its start time in
   * microseconds (epoch ms x 1000), so a later fleetd numbers above every earlier one and a
   * cursor from before a restart is recognised as older (see ReadOptions.since).
   */
  seqBase?: number;
}

/** Options of one read. */
export interface ReadOptions {
  /** Only events with a larger seq (a cursor from a previous read). A cursor from another numbering (below this bus's base: an earlier fleetd; or ahead of it) reads everything buffered. */
  since?: number;
  /** At most the last N of the backlog. */
  limit?: number;
  /** Keep streaming new events until `signal` aborts. */
  follow?: boolean;
  signal?: AbortSignal;
}

/** Creates an empty bus. */
export function createEventBus(options: EventBusOptions = {}) {
  const capacity = Math.max(1, options.capacity ?? DEFAULT_EVENT_CAPACITY);
  const now = options.now ?? Date.now;
  const ring: FleetEvent[] = [];
  const listeners = new Set<(event: FleetEvent) => void>();
  const followers = new Map<{ end(): void }, Promise<void>>();
  const base = options.seqBase ?? 0;
  let seq = base;
  let closed = false;

  /** Calls `listener` for every new event; returns the unsubscribe function. */
  function subscribe(listener: (event: FleetEvent) => void): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  }

  /** The buffered events after `since` (all when the cursor is from a newer numbering), last `limit` of them. */
  function backlog(since: number | undefined, limit: number | undefined): FleetEvent[] {
    const after = since === undefined || since > seq || since < base ? ring : ring.filter((e) => e.seq > since);
    return limit === undefined ? [...after] : after.slice(Math.max(0, after.length - limit));
  }

  return {
    /** Adds an event (seq and time are stamped here) and hands it to every subscriber. */
    publish(input: FleetEventInput): FleetEvent {
      const event = merge(input, { seq: ++seq, at: now() }) as FleetEvent; // the ring keeps up to `capacity` of them: util/merge.ts
      ring.push(event);
      if (ring.length > capacity) ring.splice(0, ring.length - capacity);
      for (const listener of listeners) {
        try {
          listener(event);
        } catch {
          // a broken subscriber must not stop the others or the publisher
        }
      }
      return event;
    },
    subscribe,
    /** fleetd is stopping: every follow stream ends after what it already has; resolves once their readers are done (at most `waitMs`). */
    async close(waitMs = 1000): Promise<void> {
      closed = true;
      const done = [...followers.values()];
      for (const f of followers.keys()) f.end();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(done), new Promise((resolve) => (timer = setTimeout(resolve, waitMs).unref()))]);
      clearTimeout(timer);
    },
    /** Seq of the newest event (the base, 0 by default, while none yet). */
    get lastSeq(): number {
      return seq;
    },
    /** The backlog, then (with follow) live events until the signal aborts; slow readers get `events.dropped`. */
    read(o: ReadOptions = {}): AsyncIterable<FleetEvent> {
      const out = createPushStream<FleetEvent>({
        limit: MAX_PENDING_EVENTS,
        onOverflow: (dropped) => ({ type: 'events.dropped', count: dropped, seq: seq, at: now() }),
        ...(o.signal ? { signal: o.signal } : {}),
      });
      // backlog and subscription are taken in the same synchronous step: nothing is lost or doubled
      let last = 0;
      const off = o.follow ? subscribe((e) => e.seq > last && out.push(e)) : () => {};
      const initial = backlog(o.since, o.limit);
      last = initial.at(-1)?.seq ?? (o.since !== undefined && o.since <= seq ? o.since : 0);
      out.push(...initial);
      let finished: () => void = () => {};
      if (!o.follow || closed) out.end();
      else followers.set(out, new Promise<void>((resolve) => (finished = resolve)));
      o.signal?.addEventListener('abort', () => off(), { once: true });
      return {
        async *[Symbol.asyncIterator]() {
          try {
            yield* out;
          } finally {
            off();
            followers.delete(out);
            finished();
          }
        },
      };
    },
  };
}

/** The bus object. */
export type EventBus = ReturnType<typeof createEventBus>;
