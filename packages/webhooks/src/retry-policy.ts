/** What one delivery attempt came back with. `status` is absent when no HTTP answer arrived. */
export interface AttemptResult {
  status?: number;
  /** Why no answer (timeout, connection refused, refused address...). */
  error?: string;
}

export interface RetryPolicy {
  /** Wait before each retry, seconds (WEBHOOK_RETRY_DELAYS_SECONDS). */
  retryDelaysSeconds: readonly number[];
  /** Failing this long disables the endpoint, seconds (WEBHOOK_DISABLE_AFTER_SECONDS). */
  disableAfterSeconds: number;
}

export type AttemptDecision =
  | { status: 'succeeded' }
  | { status: 'pending'; nextAttemptAt: Date }
  | { status: 'failed'; disableEndpoint?: string };

export const isSuccess = (result: AttemptResult) => result.status !== undefined && result.status >= 200 && result.status < 300;

/**
 * Delay before retry number `attempt` (1 = the first retry), with ±20% jitter so endpoints recovering from
 * an outage are not hit by every queued delivery in the same second. Undefined when no retry is left.
 */
export function retryDelayMs(attempt: number, delaysSeconds: readonly number[], random: () => number = Math.random): number | undefined {
  const base = delaysSeconds[attempt - 1];
  if (base === undefined) return undefined;
  return Math.round(base * 1000 * (0.8 + 0.4 * random()));
}

/**
 * Decides a delivery's next state after attempt number `attempts` (counting this one), and whether its
 * endpoint must be disabled: at once on 410 Gone (the receiver says it is gone for good), or when this
 * failure extends a run of failures started `disableAfterSeconds` ago (`failingSince` is the start of the
 * run, null when this is its first failure).
 */
export function decideAfterAttempt(input: {
  result: AttemptResult;
  attempts: number;
  failingSince: Date | null;
  now: Date;
  policy: RetryPolicy;
  random?: () => number;
}): AttemptDecision {
  const { result, attempts, failingSince, now, policy } = input;
  if (isSuccess(result)) return { status: 'succeeded' };
  if (result.status === 410) return { status: 'failed', disableEndpoint: 'endpoint answered 410 Gone' };
  if (failingSince && now.getTime() - failingSince.getTime() >= policy.disableAfterSeconds * 1000) {
    return { status: 'failed', disableEndpoint: `deliveries failing since ${failingSince.toISOString()}` };
  }
  const delay = retryDelayMs(attempts, policy.retryDelaysSeconds, input.random);
  if (delay === undefined) return { status: 'failed' };
  return { status: 'pending', nextAttemptAt: new Date(now.getTime() + delay) };
}

/** A short, safe description of a failed attempt for `lastError` (never the body we sent). */
export function describeFailure(result: AttemptResult, maxLength = 300): string | null {
  if (isSuccess(result)) return null;
  const text = result.status !== undefined ? `HTTP ${result.status}` : (result.error ?? 'no response');
  return text.length > maxLength ? `${text.slice(0, maxLength - 1)}…` : text;
}
