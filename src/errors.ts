// One error class for the whole project: a stable `code` decides behaviour (exit codes,
// HTTP status across the socket), never `instanceof` or message text.

/** Every error code fleetd and fleetctl can produce; documented in the README. */
export const ERROR_CODES = [
  'MANIFEST_NOT_FOUND',
  'MANIFEST_INVALID',
  'USAGE',
  'BAD_REQUEST',
  'NOT_FOUND',
  'CONFLICT',
  'REFUSED',
  'PORTS_EXHAUSTED',
  'REGISTRY_INVALID',
  'REGISTRY_WRITE_FAILED',
  'PROVISION_FAILED',
  'ALREADY_RUNNING',
  'DAEMON_UNREACHABLE',
  'RUNTIME_FAILED',
  'UNSUPPORTED_PLATFORM',
  'AGENT_FAILED',
  'TIMEOUT',
  'SECRET_UNAVAILABLE',
  'ARCHIVE_INVALID',
  'INTERNAL',
] as const;

/** A member of ERROR_CODES. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** The one error type: code for machines, message with the next step for people. */
export class FleetError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;
  /**
   * True when the same attempt may succeed later without anyone changing anything (disk
   * full, registry unreachable, a lock held too long). Set where the error arises, by
   * whoever knows (Nomad's recoverable errors); unset means it will fail the same way again.
   */
  readonly transient: boolean;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: unknown; transient?: boolean } = {}) {
    super(message, { cause: options.cause });
    this.name = 'FleetError';
    this.code = code;
    this.details = options.details;
    this.transient = options.transient ?? false;
  }
}

/** errno codes of failures that can pass by waiting (no space, too many files, busy, interrupted, I/O). */
const TRANSIENT_ERRNO = new Set(['ENOSPC', 'EDQUOT', 'EAGAIN', 'EBUSY', 'EMFILE', 'ENFILE', 'EINTR', 'ENOMEM', 'EIO', 'ETIMEDOUT']);

/** True for a Node system error whose errno code says it may pass by waiting (classification at the fs call site). */
export function isTransientErrno(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && TRANSIENT_ERRNO.has(code);
}

/** Process exit code for each error code (README "Exit codes"): 1 failed, 2 usage, 3 unreachable. */
export const EXIT_CODES: Record<ErrorCode, number> = {
  MANIFEST_NOT_FOUND: 1,
  MANIFEST_INVALID: 1,
  USAGE: 2,
  BAD_REQUEST: 1,
  NOT_FOUND: 1,
  CONFLICT: 1,
  REFUSED: 1,
  PORTS_EXHAUSTED: 1,
  REGISTRY_INVALID: 1,
  REGISTRY_WRITE_FAILED: 1,
  PROVISION_FAILED: 1,
  ALREADY_RUNNING: 1,
  DAEMON_UNREACHABLE: 3,
  RUNTIME_FAILED: 1,
  UNSUPPORTED_PLATFORM: 1,
  AGENT_FAILED: 1,
  TIMEOUT: 1,
  SECRET_UNAVAILABLE: 1,
  ARCHIVE_INVALID: 1,
  INTERNAL: 1,
};

/** HTTP status used on the control socket for each error code. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  MANIFEST_NOT_FOUND: 422,
  MANIFEST_INVALID: 422,
  USAGE: 400,
  BAD_REQUEST: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  REFUSED: 409,
  PORTS_EXHAUSTED: 507,
  REGISTRY_INVALID: 500,
  REGISTRY_WRITE_FAILED: 507,
  PROVISION_FAILED: 500,
  ALREADY_RUNNING: 409,
  DAEMON_UNREACHABLE: 503,
  RUNTIME_FAILED: 500,
  UNSUPPORTED_PLATFORM: 500,
  AGENT_FAILED: 500,
  TIMEOUT: 504,
  SECRET_UNAVAILABLE: 422,
  ARCHIVE_INVALID: 422,
  INTERNAL: 500,
};

/** True when `value` is one of ERROR_CODES (codes arriving over the wire are untrusted). */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

/** Wraps anything thrown into a FleetError, keeping the original as `cause`. */
export function toFleetError(err: unknown, fallback: ErrorCode = 'INTERNAL'): FleetError {
  if (err instanceof FleetError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new FleetError(fallback, message, { cause: err });
}
