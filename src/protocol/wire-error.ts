// The one decoder of errors that cross the socket: an error body of an answer, or an
// `{ error }` line inside an NDJSON stream, becomes a FleetError with fleetd's code
// (a code this fleetctl does not know becomes INTERNAL; the code decides, never the text).
import { FleetError, isErrorCode } from '../errors.js';
import { errorBodySchema, type ErrorBody } from './schemas.js';

/** Converts a wire error object into a FleetError. */
export function decodeWireError(body: ErrorBody): FleetError {
  const { code, message, details } = body.error;
  return new FleetError(isErrorCode(code) ? code : 'INTERNAL', message, { details });
}

/** Converts a non-2xx answer (status + body text) into a FleetError carrying the daemon's code. */
export function errorFromBody(status: number, text: string): FleetError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return new FleetError('INTERNAL', `fleetd answered ${status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  const body = errorBodySchema.safeParse(parsed);
  if (!body.success) return new FleetError('INTERNAL', `fleetd answered ${status} without an error body`);
  return decodeWireError(body.data);
}
