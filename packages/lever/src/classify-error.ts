/**
 * How a failed call to Lever's token endpoint must be treated. This decides whether a customer keeps their
 * connection, so it is a pure function with a table-driven test.
 *
 * - `permanent`: the grant is gone (invalid_grant); only the customer can fix it by reconnecting.
 * - `operator`: our OAuth app's credentials are wrong; not the customer's fault, never needs_reauth.
 * - `transient`: try again later with the same refresh token.
 */
export type FailureKind = 'permanent' | 'operator' | 'transient';

export type FailureReason =
  | 'invalid_grant'
  | 'invalid_client'
  | 'rate_limited'
  | 'server_error'
  | 'timeout'
  | 'network_error'
  | 'bad_response';

export interface TokenFailure {
  kind: FailureKind;
  reason: FailureReason;
  /** Lever's error_description when it sent one (never contains a token). */
  description?: string;
  /** From Retry-After on a 429/503. */
  retryAfterMs?: number;
  /**
   * The request may have reached Lever and been processed (timeout, reset after sending): Lever may have
   * rotated the refresh token we still hold.
   */
  ambiguous: boolean;
  status?: number;
}

export type TokenCallOutcome =
  | { type: 'http'; status: number; body: unknown; retryAfter?: string | null }
  | { type: 'network'; error: unknown; requestSent: boolean };

function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function oauthError(body: unknown): { error?: string; description?: string } {
  if (typeof body !== 'object' || body === null) return {};
  const b = body as Record<string, unknown>;
  return {
    error: typeof b.error === 'string' ? b.error : undefined,
    description: typeof b.error_description === 'string' ? b.error_description.slice(0, 200) : undefined,
  };
}

export function classifyTokenFailure(outcome: TokenCallOutcome): TokenFailure {
  if (outcome.type === 'network') {
    const name = (outcome.error as { name?: string } | undefined)?.name;
    const isTimeout = name === 'TimeoutError' || name === 'AbortError';
    return { kind: 'transient', reason: isTimeout ? 'timeout' : 'network_error', ambiguous: outcome.requestSent };
  }
  const { status, body } = outcome;
  const { error, description } = oauthError(body);
  // Classify on the OAuth `error` field, never on the status: Auth0 answers invalid_grant with 403 or 400.
  if (error === 'invalid_grant') return { kind: 'permanent', reason: 'invalid_grant', description, ambiguous: false, status };
  if (error === 'invalid_client' || error === 'unauthorized_client' || (status === 401 && error !== undefined)) {
    return { kind: 'operator', reason: 'invalid_client', description, ambiguous: false, status };
  }
  if (status === 401) return { kind: 'operator', reason: 'invalid_client', description, ambiguous: false, status };
  if (status === 429) {
    return { kind: 'transient', reason: 'rate_limited', retryAfterMs: parseRetryAfter(outcome.retryAfter), ambiguous: false, status };
  }
  if (status >= 500) {
    return {
      kind: 'transient',
      reason: 'server_error',
      retryAfterMs: parseRetryAfter(outcome.retryAfter),
      // A 5xx may come from a gateway after Lever processed the request; treat like a lost response.
      ambiguous: status === 502 || status === 504,
      status,
    };
  }
  // Other 4xx without a recognised OAuth error (e.g. a proxy page): keep the grant and retry later.
  return { kind: 'transient', reason: 'bad_response', description, ambiguous: false, status };
}
