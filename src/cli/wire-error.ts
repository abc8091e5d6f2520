// Errors that arrive inside an NDJSON stream (`{ error: {...} }` lines) become FleetErrors
// with fleetd's code, like the error bodies of ordinary answers.
import { FleetError, isErrorCode } from '../errors.js';
import type { ErrorBody } from '../protocol/schemas.js';

/** Converts a streamed error object into a FleetError (unknown codes become INTERNAL). */
export function errorFromEvent(body: ErrorBody): FleetError {
  const { code, message, details } = body.error;
  return new FleetError(isErrorCode(code) ? code : 'INTERNAL', message, { details });
}
