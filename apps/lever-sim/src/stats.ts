/** Counters since start or the last `/__sim/reset`; tests read them to prove what happened at "Lever". */
export interface Counters {
  tokenRequests: number;
  authorizations: number;
  codeExchanges: number;
  refreshesOk: number;
  refreshesRejected: number;
  refreshTokenReuse: number;
  /** Code exchanges and refresh rotations whose answer was fully written before the connection closed... */
  rotationsDelivered: number;
  /** ...and those whose connection closed first (the client never got the new refresh token). */
  rotationsUndelivered: number;
  grantsRevoked: number;
  /** `POST /oauth/revoke` requests answered 200 (an unknown token too, as RFC 7009 wants). */
  revocations: number;
  apiCalls: number;
  rateLimited: number;
  faultsInjected: number;
  /** Webhook delivery attempts (each retry is one), and how they ended. */
  webhookDeliveries: number;
  webhookDeliveriesOk: number;
  webhookDeliveriesFailed: number;
  /** Deliveries that failed their last retry. */
  webhookDeliveriesGivenUp: number;
  /** Webhooks switched off by the sim after `webhookDisableAfter` given-up deliveries in a row. */
  webhooksDisabled: number;
  /** Through the Webhooks API or the control plane. */
  webhooksCreated: number;
  webhooksDeleted: number;
}

export type CounterName = keyof Counters;

/**
 * Why a request was refused. Each reason is its own top-level counter in `/__sim/stats`, named
 * `rejected` + the reason in PascalCase (`refresh_token_reuse` → `rejectedRefreshTokenReuse`), and every
 * one is present (0 until it happens) so the stats stay one flat object with a stable set of keys.
 */
export const REJECTION_REASONS = [
  // POST /oauth/token, before any grant is looked at
  'invalid_request',
  'unsupported_grant_type',
  'invalid_client',
  'fault_invalid_grant',
  // grant_type=refresh_token
  'unknown_refresh_token',
  'client_mismatch', // also a code of another client
  'grant_revoked',
  'refresh_token_reuse',
  'refresh_token_expired',
  'refresh_token_idle_expired',
  // grant_type=authorization_code
  'invalid_code',
  'code_reuse',
  'code_expired',
  'redirect_uri_mismatch',
  'pkce_failed',
  // POST /oauth/revoke
  'revoke_invalid_request',
  'revoke_invalid_client',
  // the API (/v1, /sandbox/v1)
  'api_missing',
  'api_malformed',
  'api_expired',
  'api_wrong_audience',
  'api_unknown',
  'api_revoked',
  'api_fault_invalid_grant',
] as const;

export type RejectionReason = (typeof REJECTION_REASONS)[number];

type PascalCase<S extends string> = S extends `${infer Head}_${infer Tail}` ? `${Capitalize<Head>}${PascalCase<Tail>}` : Capitalize<S>;
export type RejectionCounter = `rejected${PascalCase<RejectionReason>}`;

export function rejectionCounter<R extends RejectionReason>(reason: R): `rejected${PascalCase<R>}` {
  const pascal = reason
    .split('_')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
  return `rejected${pascal}` as `rejected${PascalCase<R>}`;
}

export type StatsSnapshot = Counters & { liveGrants: number } & Record<RejectionCounter, number>;

export interface Stats {
  increment(name: CounterName, by?: number): void;
  /** Counts a refused token request, revocation or API call under its reason. */
  reject(reason: RejectionReason): void;
  /** One flat object of numbers; `liveGrants` is computed by the caller (it depends on the clock). */
  snapshot(liveGrants: number): StatsSnapshot;
  reset(): void;
}

function zero(): Counters {
  return {
    tokenRequests: 0,
    authorizations: 0,
    codeExchanges: 0,
    refreshesOk: 0,
    refreshesRejected: 0,
    refreshTokenReuse: 0,
    rotationsDelivered: 0,
    rotationsUndelivered: 0,
    grantsRevoked: 0,
    revocations: 0,
    apiCalls: 0,
    rateLimited: 0,
    faultsInjected: 0,
    webhookDeliveries: 0,
    webhookDeliveriesOk: 0,
    webhookDeliveriesFailed: 0,
    webhookDeliveriesGivenUp: 0,
    webhooksDisabled: 0,
    webhooksCreated: 0,
    webhooksDeleted: 0,
  };
}

function zeroRejections(): Record<RejectionCounter, number> {
  return Object.fromEntries(REJECTION_REASONS.map((reason) => [rejectionCounter(reason), 0])) as Record<RejectionCounter, number>;
}

export function createStats(): Stats {
  let counters = zero();
  let rejections = zeroRejections();
  return {
    increment(name, by = 1) {
      counters[name] += by;
    },
    reject(reason) {
      rejections[rejectionCounter(reason)]++;
    },
    snapshot: (liveGrants) => ({ ...counters, liveGrants, ...rejections }),
    reset() {
      counters = zero();
      rejections = zeroRejections();
    },
  };
}
