/**
 * One error type for the whole of Berth. Every failure that crosses a module boundary is a
 * BerthError with a code from a closed vocabulary; the HTTP status and the CLI exit code are
 * derived from that code in exactly one place (below), so callers never invent their own.
 */
export const ERROR_CODES = [
  'NotFound',
  'AlreadyExists',
  'Unauthorized',
  'Forbidden',
  'BadRequest',
  'RequestEntityTooLarge',
  'MethodNotAllowed',
  'UnsupportedMediaType',
  'Conflict',
  'Invalid',
  'Compacted',
  'Unavailable',
  /** A write of a server that is no longer the leader, refused by its fence. */
  'NotLeader',
  'Timeout',
  'TooManyRequests',
  'Usage',
  'Internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

const HTTP_STATUS: Record<ErrorCode, number> = {
  NotFound: 404,
  AlreadyExists: 409,
  Unauthorized: 401,
  Forbidden: 403,
  BadRequest: 400,
  RequestEntityTooLarge: 413,
  MethodNotAllowed: 405,
  UnsupportedMediaType: 415,
  Conflict: 409,
  Invalid: 422,
  Compacted: 410,
  Unavailable: 503,
  NotLeader: 503,
  Timeout: 504,
  TooManyRequests: 429,
  Usage: 400,
  Internal: 500,
};

/** Exit codes of the `berth` command: 1 = the thing checked failed, 2 = usage or I/O. */
const EXIT_CODE: Record<ErrorCode, number> = {
  NotFound: 1,
  AlreadyExists: 1,
  Unauthorized: 1,
  Forbidden: 1,
  BadRequest: 2,
  RequestEntityTooLarge: 1,
  MethodNotAllowed: 2,
  UnsupportedMediaType: 2,
  Conflict: 1,
  Invalid: 1,
  Compacted: 1,
  Unavailable: 2,
  NotLeader: 2,
  Timeout: 1,
  TooManyRequests: 1,
  Usage: 2,
  Internal: 2,
};

/** Why, in Kubernetes' Status details.causes form (an eviction's DisruptionBudget, …). */
export interface ErrorCause {
  reason: string;
  message: string;
  field?: string;
}

export class BerthError extends Error {
  readonly code: ErrorCode;
  readonly causes: ErrorCause[] | undefined;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; causes?: ErrorCause[] }) {
    super(message, options);
    this.name = 'BerthError';
    this.code = code;
    this.causes = options?.causes;
  }
  get httpStatus(): number {
    return HTTP_STATUS[this.code];
  }
  get exitCode(): number {
    return EXIT_CODE[this.code];
  }
}

export function isBerthError(e: unknown, code?: ErrorCode): e is BerthError {
  return e instanceof BerthError && (code === undefined || e.code === code);
}

export function httpStatusOf(code: ErrorCode): number {
  return HTTP_STATUS[code];
}

export function exitCodeOf(code: ErrorCode): number {
  return EXIT_CODE[code];
}
