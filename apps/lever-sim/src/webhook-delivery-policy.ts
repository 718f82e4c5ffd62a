/**
 * When Lever retries a webhook delivery, gives up, and disables the webhook (LEVER.md: "retries a failed
 * delivery up to 5 times with increasing delays and disables a webhook that keeps failing"). Pure, so the
 * table test states the policy; webhook-delivery.ts only carries it out.
 */
export interface WebhookDeliveryPolicy {
  /** Delay before each retry, in real-clock ms; its length is the number of retries. */
  retryDelaysMs: readonly number[];
  /** How long one attempt may take before it counts as failed (ms). */
  timeoutMs: number;
  /** Consecutive given-up deliveries after which the webhook is disabled. */
  disableAfter: number;
}

const MINUTE_MS = 60_000;
/** 1, 2, 4, 8 and 16 minutes: Lever's exact schedule is not published, only "increasing delays". */
export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [1, 2, 4, 8, 16].map((m) => m * MINUTE_MS);
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000;
export const DEFAULT_DISABLE_AFTER = 3;

export type NextStep = { kind: 'delivered' } | { kind: 'retry'; delayMs: number } | { kind: 'given_up' };

/** After attempt number `attempts` (1-based) succeeded or failed. */
export function nextStep(attempts: number, ok: boolean, policy: Pick<WebhookDeliveryPolicy, 'retryDelaysMs'>): NextStep {
  if (ok) return { kind: 'delivered' };
  const delayMs = policy.retryDelaysMs[attempts - 1];
  return delayMs === undefined ? { kind: 'given_up' } : { kind: 'retry', delayMs };
}

export function shouldDisable(consecutiveGiveUps: number, policy: Pick<WebhookDeliveryPolicy, 'disableAfter'>): boolean {
  return consecutiveGiveUps >= policy.disableAfter;
}

/** Any 2xx; the body is ignored, and a redirect is a failure (it is not followed). */
export function isDeliverySuccess(status: number): boolean {
  return status >= 200 && status < 300;
}
