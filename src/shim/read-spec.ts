// Reads the shim's launch spec: one JSON document on stdin, bounded, checked against the
// schema. The spec carries secrets, which is why it comes on a pipe and never from a file;
// a rejected spec is described by paths and expectations, never by its values.
import type { Readable } from 'node:stream';
import { describeIssues, MAX_SPEC_BYTES, shimSpecSchema, type ShimSpec } from './protocol.js';

/** The spec, or why there is none. */
export type SpecRead = { ok: true; spec: ShimSpec } | { ok: false; message: string };

/** Reads `input` to its end (at most MAX_SPEC_BYTES) and parses it as a ShimSpec. */
export async function readSpec(input: Readable, maxBytes = MAX_SPEC_BYTES): Promise<SpecRead> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      input.destroy();
      return { ok: false, message: `launch spec on stdin is larger than ${maxBytes} bytes` };
    }
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return { ok: false, message: 'no launch spec on stdin (expected one JSON document)' };
  let json: unknown;
  try {
    json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return { ok: false, message: `launch spec on stdin is not JSON (${size} bytes)` };
  }
  const parsed = shimSpecSchema.safeParse(json);
  return parsed.success ? { ok: true, spec: parsed.data } : { ok: false, message: `launch spec: ${describeIssues(parsed.error)}` };
}
