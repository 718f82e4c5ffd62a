/**
 * Every failed call throws a `LeverConnectError` carrying the api's error shape
 * (`{error: {code, message, details?}, requestId}`); the subclasses name the cases a caller branches on.
 */
export class LeverConnectError extends Error {
  /** HTTP status; 0 when no answer arrived (`NetworkError`). */
  readonly status: number;
  /** Stable machine-readable code, e.g. `not_found`, `needs_reauth`, `validation_failed`. */
  readonly code: string;
  /** The api's request id (also in its logs): quote it when asking for help. */
  readonly requestId: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(init: { status: number; code: string; message: string; requestId?: string; details?: Record<string, unknown>; cause?: unknown }) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.status = init.status;
    this.code = init.code;
    this.requestId = init.requestId;
    this.details = init.details;
  }
}

/** 400: the request did not match the schema; `field` names the offending one (e.g. `params.id`). */
export class ValidationError extends LeverConnectError {
  get field(): string | undefined {
    const field = this.details?.field;
    return typeof field === 'string' ? field : undefined;
  }
}

/** 401: the API key is missing, malformed, unknown or revoked. */
export class UnauthorizedError extends LeverConnectError {}

/** 403: the route needs an unscoped (admin) API key. */
export class ForbiddenError extends LeverConnectError {}

/** 404: no such resource, or it belongs to another tenant than the key's. */
export class NotFoundError extends LeverConnectError {}

/** 409: the resource is in a state that forbids the call (e.g. `connection_disconnected`). */
export class ConflictError extends LeverConnectError {}

/** 409 `needs_reauth`: Lever no longer honours the grant; the customer must connect again. */
export class NeedsReauthError extends ConflictError {
  /** Why, as recorded when the connection lost its grant (e.g. `invalid_grant`), or null. */
  get reason(): string | null {
    const reason = this.details?.reason;
    return typeof reason === 'string' ? reason : null;
  }
}

/** A status that says "try again later" (429, 503), with the server's Retry-After when it sent one. */
export class RetryLaterError extends LeverConnectError {
  readonly retryAfterSeconds: number | undefined;
  constructor(init: ConstructorParameters<typeof LeverConnectError>[0] & { retryAfterSeconds?: number }) {
    super(init);
    this.retryAfterSeconds = init.retryAfterSeconds;
  }
}

/** 429, after the client's own retries. */
export class RateLimitedError extends RetryLaterError {}

/** 503 (e.g. a refresh of the connection in progress elsewhere, Lever unreachable), after the client's own retries. */
export class UnavailableError extends RetryLaterError {}

/** No HTTP answer (connection refused or reset, DNS, timeout), after the client's own retries. */
export class NetworkError extends LeverConnectError {}

interface ErrorBody {
  error?: { code?: unknown; message?: unknown; details?: unknown };
  requestId?: unknown;
}

/** Parses a Retry-After header (delta seconds or an HTTP date) into seconds, or undefined. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

/** The typed error for a non-2xx answer; `body` is the parsed JSON (or text) openapi-fetch read. */
export function errorFromResponse(response: Response, body: unknown): LeverConnectError {
  const shaped = typeof body === 'object' && body !== null ? (body as ErrorBody) : {};
  const status = response.status;
  const code = typeof shaped.error?.code === 'string' ? shaped.error.code : `http_${status}`;
  const message =
    typeof shaped.error?.message === 'string'
      ? shaped.error.message
      : `HTTP ${status}${response.statusText ? ` ${response.statusText}` : ''}`;
  const details =
    typeof shaped.error?.details === 'object' && shaped.error.details !== null ? (shaped.error.details as Record<string, unknown>) : undefined;
  const requestId = typeof shaped.requestId === 'string' ? shaped.requestId : (response.headers.get('x-request-id') ?? undefined);
  const init = { status, code, message, requestId, details };
  if (status === 400) return new ValidationError(init);
  if (status === 401) return new UnauthorizedError(init);
  if (status === 403) return new ForbiddenError(init);
  if (status === 404) return new NotFoundError(init);
  if (status === 409) return code === 'needs_reauth' ? new NeedsReauthError(init) : new ConflictError(init);
  const retryAfterSeconds = parseRetryAfter(response.headers.get('retry-after'));
  if (status === 429) return new RateLimitedError({ ...init, retryAfterSeconds });
  if (status === 503) return new UnavailableError({ ...init, retryAfterSeconds });
  return new LeverConnectError(init);
}
