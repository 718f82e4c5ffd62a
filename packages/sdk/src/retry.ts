import { NetworkError, parseRetryAfter } from './errors.js';

export interface RetryPolicy {
  /** Retries after the first attempt. Default 3. */
  retries: number;
  /** First backoff step, ms; doubled per retry, with full jitter. Default 250. */
  baseDelayMs: number;
  /**
   * Longest wait between attempts, ms. A Retry-After asking for more is not waited for: the error is
   * thrown at once with `retryAfterSeconds`, so the caller decides. Default 30 000.
   */
  maxDelayMs: number;
  /** Per attempt, ms; a timed-out attempt counts as a network error. Default 30 000. */
  timeoutMs: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({ retries: 3, baseDelayMs: 250, maxDelayMs: 30_000, timeoutMs: 30_000 });

/** Statuses worth another attempt: overload and transient server failures (501 Not Implemented is not). */
export const isRetryableStatus = (status: number) => status === 429 || (status >= 500 && status !== 501 && status !== 505);

/**
 * How long to wait before retry number `attempt` (0 = the first retry): full jitter over
 * `baseDelayMs * 2^attempt`, capped at `maxDelayMs`, and never sooner than the server's Retry-After.
 * Undefined when Retry-After asks for longer than `maxDelayMs` (give up rather than block).
 */
export function retryDelayMs(
  attempt: number,
  retryAfterSeconds: number | undefined,
  policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'>,
  random: () => number = Math.random,
): number | undefined {
  const jitter = random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  if (retryAfterSeconds === undefined) return jitter;
  const floor = retryAfterSeconds * 1000;
  if (floor > policy.maxDelayMs) return undefined;
  return Math.min(policy.maxDelayMs, floor + jitter);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

const describe = (error: unknown) => {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return 'no answer in time';
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(error);
};

/**
 * A `fetch` for openapi-fetch that retries what `isRetryable` allows (idempotent calls) on network errors,
 * 429 and 5xx, and gives every attempt a timeout. Anything else is sent exactly once: a POST that creates
 * something could otherwise create it twice.
 */
export function createRetryingFetch(
  fetchImpl: (request: Request) => Promise<Response>,
  policy: RetryPolicy,
  isRetryable: (request: Request) => boolean,
  random: () => number = Math.random,
): (request: Request) => Promise<Response> {
  return async (request) => {
    const attempts = isRetryable(request) ? policy.retries + 1 : 1;
    for (let attempt = 0; ; attempt++) {
      const isLast = attempt + 1 >= attempts;
      // The original request is kept unread for the last attempt; earlier attempts send copies.
      const sent = isLast ? request : request.clone();
      let response: Response;
      try {
        response = await fetchImpl(new Request(sent, { signal: AbortSignal.any([request.signal, AbortSignal.timeout(policy.timeoutMs)]) }));
      } catch (error) {
        if (request.signal.aborted) throw error; // the caller gave up: not ours to retry
        if (isLast) {
          const { pathname } = new URL(request.url);
          throw new NetworkError({ status: 0, code: 'network_error', message: `${request.method} ${pathname}: ${describe(error)}`, cause: error });
        }
        await sleep(retryDelayMs(attempt, undefined, policy, random)!, request.signal);
        continue;
      }
      if (isLast || !isRetryableStatus(response.status)) return response;
      const delay = retryDelayMs(attempt, parseRetryAfter(response.headers.get('retry-after')), policy, random);
      if (delay === undefined) return response;
      await response.body?.cancel().catch(() => undefined);
      await sleep(delay, request.signal);
    }
  };
}
