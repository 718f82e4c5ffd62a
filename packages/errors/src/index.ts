/**
 * One error base for the whole service. Domain code throws these; the API maps them to
 * `{error: {code, message, details?}, requestId}` in exactly one place. `message` is written for the
 * operator reading it and must never carry a secret.
 */
export class AppError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly statusCode = 400,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class NotFoundError extends AppError {
  constructor(what: string, details?: Record<string, unknown>) {
    super('not_found', `${what} not found`, 404, details);
  }
}

export class ValidationError extends AppError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('validation_failed', message, 400, details);
  }
}

export class ConflictError extends AppError {
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super(code, message, 409, details);
  }
}

export class UnauthorizedError extends AppError {
  constructor(code = 'unauthorized', message = 'A valid API key is required (Authorization: Bearer lc_...)') {
    super(code, message, 401);
  }
}

export class ForbiddenError extends AppError {
  constructor(message = 'This API key may not use this route') {
    super('forbidden', message, 403);
  }
}

/** The connection's grant is gone; the customer must reconnect. */
export class NeedsReauthError extends AppError {
  constructor(reason: string | null) {
    super('needs_reauth', 'The connection needs to be re-authorized by the customer', 409, { reason });
  }
}

/** A refusal the caller may try again after `retryAfterSeconds`; the response carries Retry-After. */
export class RetryLaterError extends AppError {
  constructor(
    code: string,
    message: string,
    statusCode: number,
    readonly retryAfterSeconds: number,
    details?: Record<string, unknown>,
  ) {
    super(code, message, statusCode, { retryAfterSeconds, ...details });
  }
}

/** Work that should succeed shortly (503). */
export class TemporarilyUnavailableError extends RetryLaterError {
  constructor(code: string, message: string, retryAfterSeconds: number) {
    super(code, message, 503, retryAfterSeconds);
  }
}

/** Over a rate limit (429). */
export class RateLimitedError extends RetryLaterError {
  constructor(code: string, message: string, retryAfterSeconds: number, details?: Record<string, unknown>) {
    super(code, message, 429, retryAfterSeconds, details);
  }
}
