import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { ApiEnvironment } from './audiences.js';
import type { Clock } from './clock.js';
import type { Stats } from './stats.js';
import { isDeliverySuccess, nextStep, shouldDisable, type WebhookDeliveryPolicy } from './webhook-delivery-policy.js';
import type { WebhookEvent } from './webhook-events.js';
import { signWebhookDelivery } from './webhook-signature.js';
import type { WebhookStore } from './webhooks.js';

export type DeliveryState = 'pending' | 'delivered' | 'given_up' | 'cancelled';

interface Delivery {
  id: string;
  webhookId: string;
  event: WebhookEvent;
  /** Per delivery, the same on each retry, so the signature is too. */
  token: string;
  triggeredAt: number;
  /** The JSON body, fixed at the event: a retry sends the same bytes. */
  body: string;
  attempts: number;
  lastStatus: number | null;
  lastError?: string;
  state: DeliveryState;
  timer?: NodeJS.Timeout;
}

export interface WebhookEventInput {
  account: string;
  environment: ApiEnvironment;
  event: WebhookEvent;
  data: Record<string, unknown>;
}

export type WebhookDeliveryView = ReturnType<typeof deliveryView>;

export interface WebhookDeliverer {
  /** Starts one delivery per enabled subscriber, in the background; never waits for a receiver. */
  emit(input: WebhookEventInput): WebhookDeliveryView[];
  list(): WebhookDeliveryView[];
  /** Stops the pending deliveries of a webhook that was deleted or disabled. */
  cancelWebhook(webhookId: string): void;
  /** Forgets every delivery and stops the pending ones and those in flight (`/__sim/reset`). */
  clear(): void;
  /** As clear, and refuses new events: the app is closing. */
  close(): void;
}

function deliveryView(delivery: Delivery) {
  return {
    id: delivery.id,
    webhookId: delivery.webhookId,
    event: delivery.event,
    token: delivery.token,
    triggeredAt: delivery.triggeredAt,
    attempts: delivery.attempts,
    lastStatus: delivery.lastStatus,
    ...(delivery.lastError ? { lastError: delivery.lastError } : {}),
    delivered: delivery.state === 'delivered',
    state: delivery.state,
  };
}

type AttemptResult = { status: number } | { error: string };

/** One POST. A timeout or a connection error is a failed attempt like a non-2xx; the answer's body is ignored. */
async function post(url: string, body: string, timeoutMs: number, stop: AbortSignal): Promise<AttemptResult> {
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      redirect: 'manual',
      signal: AbortSignal.any([timeout, stop]),
    });
    // Lever ignores the body; discarding it frees the connection, and a failure to discard changes nothing.
    await res.body?.cancel().catch(() => undefined);
    return { status: res.status };
  } catch (error) {
    if (timeout.aborted) return { error: 'timeout' };
    const code = (error as { cause?: { code?: unknown } }).cause?.code;
    return { error: typeof code === 'string' ? `connection_error: ${code}` : 'connection_error' };
  }
}

/**
 * Delivers Lever's webhook events as Lever does: a signed JSON POST, retried on failure with increasing
 * delays (real clock: a test shortens them with `webhookRetryDelaysMs`), given up after the last retry, and
 * the webhook disabled silently after `disableAfter` given-up deliveries in a row. Everything runs on timers
 * and in-flight requests owned here, so `/__sim/reset` and `app.close()` stop it at once.
 */
export function createWebhookDeliverer(deps: {
  webhooks: WebhookStore;
  stats: Pick<Stats, 'increment'>;
  clock: Pick<Clock, 'now'>;
  policy: WebhookDeliveryPolicy;
  log: Pick<FastifyBaseLogger, 'debug' | 'info' | 'error'>;
}): WebhookDeliverer {
  const { webhooks, stats, clock, policy, log } = deps;
  let deliveries: Delivery[] = [];
  // Aborted by clear/close: stops requests in flight, and tells their late results to land nowhere.
  let run = new AbortController();
  let closed = false;

  const schedule = (delivery: Delivery, delayMs: number, signal: AbortSignal) => {
    delivery.timer = setTimeout(() => {
      delete delivery.timer;
      attempt(delivery, signal).catch((err: unknown) => log.error({ err, deliveryId: delivery.id }, 'webhook delivery crashed'));
    }, delayMs);
    // A pending retry must not keep a process alive that is otherwise done.
    delivery.timer.unref();
  };

  const cancel = (delivery: Delivery) => {
    if (delivery.timer) clearTimeout(delivery.timer);
    delete delivery.timer;
    if (delivery.state === 'pending') delivery.state = 'cancelled';
  };

  async function attempt(delivery: Delivery, signal: AbortSignal): Promise<void> {
    const webhook = webhooks.find(delivery.webhookId);
    // Deleted or switched off since the event: Lever sends nothing to a webhook that is not enabled.
    if (!webhook || !webhook.enabled || delivery.state !== 'pending') return cancel(delivery);
    delivery.attempts++;
    stats.increment('webhookDeliveries');
    const result = await post(webhook.url, delivery.body, policy.timeoutMs, signal);
    // Reset or close: this delivery and its counters are gone.
    if (signal.aborted) return;

    delivery.lastStatus = 'status' in result ? result.status : null;
    if ('error' in result) delivery.lastError = result.error;
    else delete delivery.lastError;
    const ok = 'status' in result && isDeliverySuccess(result.status);
    stats.increment(ok ? 'webhookDeliveriesOk' : 'webhookDeliveriesFailed');
    const step = nextStep(delivery.attempts, ok, policy);
    // Ids and outcome only: the body carries the signature, and a URL may carry a secret of the receiver.
    log.debug({ webhookId: webhook.id, deliveryId: delivery.id, attempt: delivery.attempts, ...result, next: step.kind }, 'webhook delivery attempt');

    // Cancelled while in flight (webhook deleted or disabled): the attempt counted, nothing follows it.
    if (delivery.state !== 'pending') return;
    if (step.kind === 'delivered') {
      delivery.state = 'delivered';
      webhook.consecutiveGiveUps = 0;
    } else if (step.kind === 'retry') {
      schedule(delivery, step.delayMs, signal);
    } else {
      delivery.state = 'given_up';
      stats.increment('webhookDeliveriesGivenUp');
      webhook.consecutiveGiveUps++;
      if (webhook.enabled && shouldDisable(webhook.consecutiveGiveUps, policy)) {
        // Silently, as Lever does: nobody is told; the API list shows enabled: false.
        webhooks.disable(webhook, clock.now());
        stats.increment('webhooksDisabled');
        log.info({ webhookId: webhook.id, consecutiveGiveUps: webhook.consecutiveGiveUps }, 'webhook disabled');
        for (const other of deliveries) if (other.webhookId === webhook.id) cancel(other);
      }
    }
  }

  const clear = () => {
    run.abort();
    for (const delivery of deliveries) cancel(delivery);
    deliveries = [];
    run = new AbortController();
  };

  return {
    emit({ account, environment, event, data }) {
      if (closed) return [];
      const triggeredAt = clock.now();
      return webhooks.subscribers(account, environment, event).map((webhook) => {
        const token = randomBytes(20).toString('hex');
        const signature = signWebhookDelivery(webhook.signatureToken, token, triggeredAt);
        const delivery: Delivery = {
          id: randomUUID(),
          webhookId: webhook.id,
          event,
          token,
          triggeredAt,
          body: JSON.stringify({ token, triggeredAt, signature, event, data }),
          attempts: 0,
          lastStatus: null,
          state: 'pending',
        };
        deliveries.push(delivery);
        schedule(delivery, 0, run.signal);
        return deliveryView(delivery);
      });
    },
    list: () => deliveries.map(deliveryView),
    cancelWebhook(webhookId) {
      for (const delivery of deliveries) if (delivery.webhookId === webhookId) cancel(delivery);
    },
    clear,
    close() {
      closed = true;
      clear();
    },
  };
}
