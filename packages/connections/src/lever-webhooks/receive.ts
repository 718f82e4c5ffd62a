import { insertEventOnce, isDatabaseUnavailable, sqlOf, type Database } from '@lever-connect/db';
import { AppError, NotFoundError, TemporarilyUnavailableError, UnauthorizedError } from '@lever-connect/errors';
import type { EventType } from '@lever-connect/runtime';
import type { InvalidationBus } from '../tokens/invalidation.js';
import { readDelivery } from './lever-api-shapes.js';
import { leverSignatureValid } from './signature.js';
import type { ReceivingSubscription, SubscriptionStore } from './subscription-store.js';

export type ReceiveOutcome = 'stored' | 'duplicate';
export type RejectReason = 'malformed' | 'unknown_subscription' | 'signature_invalid' | 'unavailable';

/** How long a subscription (and its decrypted token) is kept in memory; dropped at once when its connection changes. */
const CACHE_TTL_MS = 15_000;
const CACHE_MAX = 10_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export class LeverWebhookMalformedError extends AppError {
  constructor(problem: string) {
    super('lever_webhook_malformed', `Not a Lever webhook delivery: ${problem}`, 400);
  }
}

/**
 * Receiving one delivery Lever posts to `PUBLIC_BASE_URL/lever/webhooks/<subscription id>` (DESIGN.md
 * invariant 10: nothing is acknowledged that is not stored). Checks the body, finds the subscription (an
 * unguessable id), verifies Lever's signature with that subscription's own token in constant time, and
 * writes the event to the outbox in one INSERT, once per Lever `token` (Lever retries a delivery with the
 * same token). No other work happens before the answer: forwarding is the outbox relay's.
 */
export function createLeverWebhookReceiver(deps: {
  database: Pick<Database, 'pool'>;
  store: Pick<SubscriptionStore, 'forReceiving'>;
  bus?: Pick<InvalidationBus, 'subscribe'>;
  /** Told of every refused delivery, by reason (metrics). */
  onRejected?(reason: RejectReason): void;
}) {
  const sql = sqlOf(deps.database.pool);
  const cache = new Map<string, { subscription: ReceivingSubscription; at: number }>();
  deps.bus?.subscribe('connection', {
    onMessage: (connectionId) => {
      for (const [id, entry] of cache) if (entry.subscription.connection.id === connectionId) cache.delete(id);
    },
    onReset: () => cache.clear(),
  });

  async function subscription(id: string): Promise<ReceivingSubscription | null> {
    if (!UUID.test(id)) return null;
    const hit = cache.get(id);
    if (hit && Date.now() - hit.at < CACHE_TTL_MS) return hit.subscription;
    const found = await deps.store.forReceiving(id);
    if (found) {
      if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
      cache.set(id, { subscription: found, at: Date.now() });
    } else {
      cache.delete(id);
    }
    return found;
  }

  function reject(reason: RejectReason, error: Error): never {
    deps.onRejected?.(reason);
    throw error;
  }

  return {
    async receive(subscriptionId: string, body: unknown): Promise<ReceiveOutcome> {
      const read = readDelivery(body);
      if ('problem' in read) reject('malformed', new LeverWebhookMalformedError(read.problem));
      const { delivery } = read;
      let found: ReceivingSubscription | null;
      try {
        found = await subscription(subscriptionId);
      } catch (error) {
        if (isDatabaseUnavailable(error)) reject('unavailable', new TemporarilyUnavailableError('database_unavailable', 'The delivery could not be stored; Lever retries it', 5));
        throw error;
      }
      if (!found) reject('unknown_subscription', new NotFoundError('Lever webhook subscription'));
      if (!leverSignatureValid(found.signatureToken, delivery)) {
        reject('signature_invalid', new UnauthorizedError('lever_webhook_signature_invalid', "The delivery's signature does not match this webhook's signature token"));
      }
      if (delivery.event !== found.event) reject('malformed', new LeverWebhookMalformedError(`event ${delivery.event} is not this webhook's (${found.event})`));
      const { connection } = found;
      try {
        const stored = await insertEventOnce(
          sql,
          {
            type: `lever.${found.event}` as EventType,
            tenantId: connection.tenantId,
            connectionId: connection.id,
            data: {
              connection: { id: connection.id, tenant: { externalId: connection.tenantExternalId }, environment: connection.environment },
              lever: { event: delivery.event, triggeredAt: delivery.triggeredAt, data: delivery.data as Record<string, string> },
            },
          },
          `lever:${found.id}:${delivery.token}`,
        );
        return stored ? 'stored' : 'duplicate';
      } catch (error) {
        if (isDatabaseUnavailable(error)) reject('unavailable', new TemporarilyUnavailableError('database_unavailable', 'The delivery could not be stored; Lever retries it', 5));
        throw error;
      }
    },
  };
}

export type LeverWebhookReceiver = ReturnType<typeof createLeverWebhookReceiver>;
