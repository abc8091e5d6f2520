// Cuts a byte stream into lines for NDJSON peers, with a bound: a peer that never sends a
// line break cannot make the reader buffer without limit. A line longer than `maxBytes`
// is reported once (with its length so far) and skipped up to its line break.

/** Feeds chunks in; complete lines (without the line break, UTF-8 decoded) come out. */
export interface LineSplitter {
  push(chunk: Buffer): void;
}

/** What a LineSplitter calls. */
export interface LineSplitterEvents {
  line(text: string): void;
  /** A line passed `maxBytes`; it is dropped up to its line break. */
  tooLong(bytesSoFar: number): void;
}

/** Creates a splitter holding at most `maxBytes` of an unfinished line. */
export function createLineSplitter(maxBytes: number, events: LineSplitterEvents): LineSplitter {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let skipping = false;
  return {
    push(chunk) {
      let rest = chunk;
      for (;;) {
        const nl = rest.indexOf(0x0a);
        if (nl < 0) break;
        const piece = rest.subarray(0, nl);
        rest = rest.subarray(nl + 1);
        if (skipping) {
          skipping = false;
          continue;
        }
        if (pendingBytes + piece.length > maxBytes) {
          events.tooLong(pendingBytes + piece.length);
          pending = [];
          pendingBytes = 0;
          continue;
        }
        const line = pending.length === 0 ? piece : Buffer.concat([...pending, piece]);
        pending = [];
        pendingBytes = 0;
        events.line(line.toString('utf8'));
      }
      if (rest.length === 0 || skipping) return;
      if (pendingBytes + rest.length > maxBytes) {
        events.tooLong(pendingBytes + rest.length);
        pending = [];
        pendingBytes = 0;
        skipping = true;
        return;
      }
      // Copy: the caller may reuse its buffer.
      pending.push(Buffer.from(rest));
      pendingBytes += rest.length;
    },
  };
}
