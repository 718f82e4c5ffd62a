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

/** After a failure, `failingSince` is the start of the endpoint's failure run that this failure belongs to. */
export type AttemptDecision =
  | { status: 'succeeded' }
  | { status: 'pending'; nextAttemptAt: Date; failingSince: Date }
  | { status: 'failed'; failingSince: Date; disableEndpoint?: string };

/** Retry delays vary by ± this fraction. */
const JITTER = 0.2;
/** Slack for queue latency and a worker restart on top of the longest retry delay. */
const FAILURE_RUN_MARGIN_MS = 3_600_000;

export const isSuccess = (result: AttemptResult) => result.status !== undefined && result.status >= 200 && result.status < 300;

/**
 * Delay before retry number `attempt` (1 = the first retry), with ±20% jitter so endpoints recovering from
 * an outage are not hit by every queued delivery in the same second. Undefined when no retry is left.
 */
export function retryDelayMs(attempt: number, delaysSeconds: readonly number[], random: () => number = Math.random): number | undefined {
  const base = delaysSeconds[attempt - 1];
  if (base === undefined) return undefined;
  return Math.round(base * 1000 * (1 - JITTER + 2 * JITTER * random()));
}

/**
 * The longest quiet spell between two failures of one endpoint that still makes them one run. While an
 * endpoint keeps failing, each of its pending deliveries comes back within the longest retry delay (plus
 * jitter), so a longer gap means it had no traffic in between (or we were down): its earlier failures say
 * nothing about the days since, and must not count towards disabling it.
 */
export function failureRunGapMs(policy: Pick<RetryPolicy, 'retryDelaysSeconds'>): number {
  return Math.max(0, ...policy.retryDelaysSeconds) * 1000 * (1 + JITTER) + FAILURE_RUN_MARGIN_MS;
}

/**
 * Decides a delivery's next state after attempt number `attempts` (counting this one), and whether its
 * endpoint must be disabled: at once on 410 Gone (the receiver says it is gone for good), or when this
 * failure extends a run of failures started `disableAfterSeconds` ago. A run is failures with no success
 * between them and no gap longer than `failureRunGapMs`; a failure after such a gap starts a new run.
 */
export function decideAfterAttempt(input: {
  result: AttemptResult;
  attempts: number;
  /** Start of the endpoint's failure run as stored, null when none (a success ends a run). */
  failingSince: Date | null;
  /** The endpoint's latest earlier failed attempt (any delivery) known to be within the gap; null when none. */
  lastFailureAt: Date | null;
  now: Date;
  policy: RetryPolicy;
  random?: () => number;
}): AttemptDecision {
  const { result, attempts, now, policy } = input;
  if (isSuccess(result)) return { status: 'succeeded' };
  const { failingSince: stored, lastFailureAt } = input;
  // The stored run goes on only while failures keep coming; otherwise this failure starts a new one.
  const ongoing = stored && lastFailureAt && now.getTime() - lastFailureAt.getTime() <= failureRunGapMs(policy) ? stored : null;
  const failingSince = ongoing ?? now;
  if (result.status === 410) return { status: 'failed', failingSince, disableEndpoint: 'endpoint answered 410 Gone' };
  if (ongoing && now.getTime() - ongoing.getTime() >= policy.disableAfterSeconds * 1000) {
    return { status: 'failed', failingSince, disableEndpoint: `deliveries failing since ${failingSince.toISOString()}` };
  }
  const delay = retryDelayMs(attempts, policy.retryDelaysSeconds, input.random);
  if (delay === undefined) return { status: 'failed', failingSince };
  return { status: 'pending', nextAttemptAt: new Date(now.getTime() + delay), failingSince };
}

/** A short, safe description of a failed attempt for `lastError` (never the body we sent). */
export function describeFailure(result: AttemptResult, maxLength = 300): string | null {
  if (isSuccess(result)) return null;
  const text = result.status !== undefined ? `HTTP ${result.status}` : (result.error ?? 'no response');
  return text.length > maxLength ? `${text.slice(0, maxLength - 1)}…` : text;
}
