// The mailbox message format (one JSON file per message), shared by the mailbox code, the
// address book text and the README: from, to, timestamp, type, payload, status.
import { z } from 'zod';

/** Conventional message types: `ask` (like POST /hooks/agent), `answer` (like /hooks/wake), `note`. Others are allowed. */
export const MESSAGE_TYPES = ['ask', 'answer', 'note'] as const;

/** A message file name: `<ms since epoch, 13 digits>-<12 hex>.json`, so names sort by time. */
export const MESSAGE_FILE = /^(\d{13})-([0-9a-f]{12})\.json$/;

/** One message as stored under new/ (status "new") or processed/ (status "processed"). */
export const messageSchema = z.strictObject({
  /** `<ms>-<12 hex>`, the file name without `.json`. */
  id: z.string().regex(/^\d{13}-[0-9a-f]{12}$/),
  from: z.string().regex(/^[a-z0-9-]+\/[a-z0-9-]+$/),
  to: z.string().regex(/^[a-z0-9-]+\/[a-z0-9-]+$/),
  /** ISO 8601 UTC time the sender wrote it. */
  timestamp: z.iso.datetime(),
  type: z.string().regex(/^[a-z][a-z0-9.-]{0,63}$/, { message: 'a lowercase word such as "ask", "answer" or "note"' }),
  /** Any JSON value; its meaning is between the two agents. */
  payload: z.unknown(),
  status: z.enum(['new', 'processed']),
  /** ISO time the receiver marked it processed (status "processed" only). */
  processedAt: z.iso.datetime().optional(),
  /** Hop count of the conversation, as the X-Fleet-Depth header (0 = started here). */
  depth: z.int().min(0).max(100).optional(),
});

/** A mailbox message. */
export type Message = z.infer<typeof messageSchema>;
