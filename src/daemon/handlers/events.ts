// GET /v1/events[?since=SEQ][&limit=N][&follow=1]: NDJSON, one event per line: the
// buffered events after the cursor (the last N), then with follow=1 new ones as they
// happen until the client goes away.
import { FleetError } from '../../errors.js';
import type { Handler } from '../http-server.js';
import type { DaemonContext } from '../context.js';

/** Parses a whole-number query parameter (undefined when absent). */
function wholeNumber(query: URLSearchParams, name: string, max: number): number | undefined {
  const value = query.get(name);
  if (value === null) return undefined;
  if (!/^\d+$/.test(value) || Number(value) > max) throw new FleetError('BAD_REQUEST', `${name} must be a whole number from 0 to ${max}, found ${JSON.stringify(value.slice(0, 40))}`);
  return Number(value);
}

/** The events route. */
export const eventsHandler = (ctx: DaemonContext): Handler<'events'> => async ({ query, signal }) => {
  const follow = query.get('follow');
  if (follow !== null && !['0', '1', 'true', 'false'].includes(follow)) throw new FleetError('BAD_REQUEST', `follow must be 1 or 0, found ${JSON.stringify(follow.slice(0, 40))}`);
  const since = wholeNumber(query, 'since', Number.MAX_SAFE_INTEGER);
  const limit = wholeNumber(query, 'limit', 100_000);
  return { stream: ctx.events.read({ since, limit, follow: follow === '1' || follow === 'true', signal }) };
};
