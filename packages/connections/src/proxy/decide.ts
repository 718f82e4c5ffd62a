/** What came back from one attempt: Lever's status, or why there was no answer. */
export type AttemptOutcome =
  | { kind: 'response'; status: number; retryAfter?: string | undefined }
  | { kind: 'no_response'; reason: 'timeout' | 'connection'; sent: boolean };

export type Verdict =
  /** Hand Lever's answer to the caller as it is. */
  | { kind: 'answer' }
  /** Lever did not process it (429): pause the whole account for `pauseMs`, then try again, whatever the method. */
  | { kind: 'rate_limited'; pauseMs: number }
  /** Try again after `delayMs` (an idempotent call that Lever failed, or one that never reached it). */
  | { kind: 'retry'; delayMs: number }
  /** The access token was refused: refresh it once, then try again. */
  | { kind: 'refresh' }
  /** Give up: the caller gets our error for it. */
  | { kind: 'give_up'; code: 'lever_unavailable' | 'lever_unauthorized' | 'lever_forbidden' };

export interface DecideInput {
  method: string;
  outcome: AttemptOutcome;
  /** Attempts made so far, this one included. */
  attempt: number;
  maxAttempts: number;
  /** The access token was already refreshed after a 401 in this call. */
  refreshed: boolean;
  random?: () => number;
}

/** Methods Lever may receive twice without harm (LEVER.md; RFC 9110). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE']);
const BACKOFF_BASE_MS = 250;
const BACKOFF_CAP_MS = 8_000;

/** Exponential backoff with full jitter (never a fixed sleep: retries that cluster trip the limiter again). */
export function backoffWithJitter(attempt: number, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, attempt - 1)));
}

/** Lever's Retry-After in ms (seconds or an HTTP date), or undefined when absent or unreadable. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d{1,6}$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * What the proxy does with one attempt's outcome (issue "Lever API proxy"): 429 pauses the account and
 * retries any method (Lever did not process it); 5xx and timeouts retry idempotent methods only (a POST
 * may have been processed: it is never sent twice), and any method that never reached Lever; a 401 gets
 * one refresh of the token (it may have died early); 403 is Lever's refusal. Everything else is Lever's
 * answer for the caller. Whether time is left for another try is the caller's to check.
 */
export function decide(input: DecideInput): Verdict {
  const { outcome, attempt, random } = input;
  const retryable = attempt < input.maxAttempts;
  if (outcome.kind === 'no_response') {
    if (retryable && (!outcome.sent || IDEMPOTENT.has(input.method))) return { kind: 'retry', delayMs: backoffWithJitter(attempt, random) };
    return { kind: 'give_up', code: 'lever_unavailable' };
  }
  const { status } = outcome;
  if (status === 429) return { kind: 'rate_limited', pauseMs: retryAfterMs(outcome.retryAfter) ?? backoffWithJitter(attempt, random) };
  if (status >= 500) {
    if (retryable && IDEMPOTENT.has(input.method)) return { kind: 'retry', delayMs: backoffWithJitter(attempt, random) };
    return { kind: 'give_up', code: 'lever_unavailable' };
  }
  if (status === 401) return input.refreshed ? { kind: 'give_up', code: 'lever_unauthorized' } : { kind: 'refresh' };
  if (status === 403) return { kind: 'give_up', code: 'lever_forbidden' };
  return { kind: 'answer' };
}
