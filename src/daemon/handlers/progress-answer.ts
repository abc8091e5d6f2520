// The answer of a long fleet operation (rolling restart, bulk stop/start): one JSON result,
// or with ?progress=1 NDJSON: a `{ progress }` line per step as it happens, then
// `{ result }` (or `{ error }`). A failure before the operation begins (NOT_FOUND) is an
// ordinary error answer, never a stream.
import { FleetError, toFleetError } from '../../errors.js';
import { createPushStream } from '../../util/push-stream.js';
import type { Streamed } from '../http-server.js';

/** Runs `operation` with a progress callback; answers as the `progress` query parameter asks (BAD_REQUEST for a value other than 0 or 1). */
export function progressAnswer<P, R>(query: URLSearchParams, operation: (onProgress: (step: P) => void) => Promise<R>): Promise<R> | Streamed {
  const progress = query.get('progress');
  if (progress !== null && !['0', '1'].includes(progress)) throw new FleetError('BAD_REQUEST', `progress must be 1 or 0, found ${JSON.stringify(progress.slice(0, 40))}`);
  if (progress !== '1') return operation(() => {});
  const events = createPushStream<unknown>();
  const done = operation((step) => events.push({ progress: step })); // throws synchronously (NOT_FOUND) before any line
  done
    .then((result) => events.push({ result }))
    .catch((err: unknown) => {
      const e = toFleetError(err);
      events.push({ error: { code: e.code, message: e.message } });
    })
    .finally(() => events.end());
  return { stream: events };
}
