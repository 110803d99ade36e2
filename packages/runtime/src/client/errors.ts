/** One field-level reason from a Status (e.g. which field failed validation). */
export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

/** The `Status` body the API server sends with an error. */
export interface Status {
  kind?: 'Status';
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    causes?: StatusCause[];
    retryAfterSeconds?: number;
  };
}

/**
 * An error answered by the API server. Subclasses name the cases controllers branch on;
 * every one carries the verb, the path and the server's Status for context.
 */
export class ApiError extends Error {
  override name = 'ApiError';
  readonly code: number;
  readonly reason: string;
  readonly causes: StatusCause[];
  readonly retryAfterSeconds: number | undefined;

  constructor(
    readonly verb: string,
    readonly path: string,
    readonly status: Status,
    code: number,
  ) {
    const reason = status.reason ?? '';
    super(`${verb} ${path}: ${code} ${reason}${status.message ? `: ${status.message}` : ''}`);
    this.code = code;
    this.reason = reason;
    this.causes = status.details?.causes ?? [];
    this.retryAfterSeconds = status.details?.retryAfterSeconds;
  }
}

export class NotFoundError extends ApiError {
  override name = 'NotFoundError';
}
export class AlreadyExistsError extends ApiError {
  override name = 'AlreadyExistsError';
}
/** A write raced with another: re-read and try again. */
export class ConflictError extends ApiError {
  override name = 'ConflictError';
}
/** A resourceVersion too old to watch from: list again. */
export class GoneError extends ApiError {
  override name = 'GoneError';
}
export class UnauthorizedError extends ApiError {
  override name = 'UnauthorizedError';
}
export class ForbiddenError extends ApiError {
  override name = 'ForbiddenError';
}
/** Rejected by validation; `causes` names each offending field. */
export class InvalidError extends ApiError {
  override name = 'InvalidError';
}
export class TooManyRequestsError extends ApiError {
  override name = 'TooManyRequestsError';
}
export class ServerError extends ApiError {
  override name = 'ServerError';
}

/** Maps an HTTP status and body to the matching typed error. */
export function apiError(
  verb: string,
  path: string,
  code: number,
  body: string,
  retryAfterHeader?: string,
): ApiError {
  let status: Status;
  try {
    const parsed = JSON.parse(body) as Status;
    status = parsed && typeof parsed === 'object' ? parsed : { message: body };
  } catch {
    status = { message: body.slice(0, 500) };
  }
  const retryAfter = Number(retryAfterHeader);
  if (retryAfter > 0 && !status.details?.retryAfterSeconds) {
    status = { ...status, details: { ...status.details, retryAfterSeconds: retryAfter } };
  }
  const reason = status.reason;
  if (code === 404) return new NotFoundError(verb, path, status, code);
  if (code === 409) {
    return reason === 'AlreadyExists'
      ? new AlreadyExistsError(verb, path, status, code)
      : new ConflictError(verb, path, status, code);
  }
  if (code === 410) return new GoneError(verb, path, status, code);
  if (code === 401) return new UnauthorizedError(verb, path, status, code);
  if (code === 403) return new ForbiddenError(verb, path, status, code);
  if (code === 422) return new InvalidError(verb, path, status, code);
  if (code === 429) return new TooManyRequestsError(verb, path, status, code);
  if (code >= 500) return new ServerError(verb, path, status, code);
  return new ApiError(verb, path, status, code);
}

export const isNotFound = (err: unknown): err is NotFoundError => err instanceof NotFoundError;

/**
 * For `.catch()` on a read: an object that is not there reads as undefined, any other error
 * propagates (controller-runtime's IgnoreNotFound).
 */
export function notFoundIsUndefined(err: unknown): undefined {
  if (isNotFound(err)) return undefined;
  throw err;
}
export const isConflict = (err: unknown): err is ConflictError => err instanceof ConflictError;
export const isAlreadyExists = (err: unknown): err is AlreadyExistsError =>
  err instanceof AlreadyExistsError;
