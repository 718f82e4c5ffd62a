import type { Config } from '@lever-connect/config';
import { writeEvent } from '@lever-connect/connections';
import type { TokenCipher } from '@lever-connect/crypto';
import type { PrismaClient } from '@lever-connect/db';
import type { Logger } from 'pino';
import { webhookBody } from './payload.js';
import { decideAfterAttempt, describeFailure, type AttemptResult } from './retry-policy.js';
import { signedHeaders } from './signature.js';
import { assertWebhookUrlAllowed, parseAllowList, type LookupAll } from './url-policy.js';

/** One attempt may take this long (connect + answer). */
export const DELIVERY_TIMEOUT_MS = 10_000;
/** A claimed attempt's lease outlives its timeout by this much before another worker may take it over. */
const LEASE_MARGIN_MS = 5_000;
const MAX_ERROR_LENGTH = 300;

export type DeliveryOutcome =
  | { outcome: 'succeeded' }
  | { outcome: 'retry'; nextAttemptAt: Date }
  | { outcome: 'failed' }
  | { outcome: 'disabled'; reason: string }
  /** Not due yet, or another worker holds the attempt's lease: look again at `nextAttemptAt`. */
  | { outcome: 'not_due'; nextAttemptAt: Date }
  /** Nothing to do: delivered, failed, deleted, or superseded by another worker. */
  | { outcome: 'skipped' };

export interface DelivererDeps {
  prisma: PrismaClient;
  cipher: Pick<TokenCipher, 'decrypt'>;
  config: Pick<Config, 'isProduction' | 'webhooks'>;
  log: Logger;
  fetch?: typeof fetch;
  now?: () => Date;
  random?: () => number;
  lookup?: LookupAll;
  /** Per-attempt timeout, ms. Default DELIVERY_TIMEOUT_MS (tests shorten it). */
  timeoutMs?: number;
  /** Called once per finished attempt (metrics). */
  onAttempt?: (outcome: DeliveryOutcome['outcome']) => void;
}

/**
 * Makes one delivery attempt and records it in the row. The row is claimed first (attempts + 1, a lease in
 * `nextAttemptAt`), and the outcome is written only if the row is still at that attempt: a worker that was
 * presumed dead and replaced cannot overwrite its successor's result. A crash after the claim leaves a
 * pending row whose lease expires, which the sweep re-enqueues: delivery is at least once.
 */
export function createDeliverer(deps: DelivererDeps) {
  const now = deps.now ?? (() => new Date());
  const doFetch = deps.fetch ?? fetch;
  const timeoutMs = deps.timeoutMs ?? DELIVERY_TIMEOUT_MS;
  const allowList = parseAllowList(deps.config.webhooks.allowedHosts);
  const policy = deps.config.webhooks;

  async function send(url: string, headers: Record<string, string>, body: string): Promise<AttemptResult> {
    try {
      await assertWebhookUrlAllowed(url, { isProduction: deps.config.isProduction, allowList, ...(deps.lookup ? { lookup: deps.lookup } : {}) });
    } catch (error) {
      return { error: (error as Error).message };
    }
    try {
      const response = await doFetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'lever-connect-webhooks/1', ...headers },
        body,
        // A redirect could lead anywhere, including past the address check: a 3xx is a failed attempt.
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.body?.cancel().catch(() => undefined);
      return { status: response.status };
    } catch (error) {
      const err = error as Error & { cause?: { code?: string; message?: string } };
      if (err.name === 'TimeoutError' || err.name === 'AbortError') return { error: `no answer within ${timeoutMs} ms` };
      return { error: err.cause?.code ?? err.cause?.message ?? err.message };
    }
  }

  async function deliver(deliveryId: string): Promise<DeliveryOutcome> {
    const delivery = await deps.prisma.webhookDelivery.findUnique({ where: { id: deliveryId }, include: { endpoint: true } });
    if (!delivery || delivery.status !== 'pending') return { outcome: 'skipped' };
    const { endpoint } = delivery;
    const log = deps.log.child({ deliveryId, endpointId: endpoint.id, eventId: delivery.eventId });
    const start = now();

    if (!endpoint.enabled) {
      await deps.prisma.webhookDelivery.updateMany({
        where: { id: deliveryId, status: 'pending' },
        data: { status: 'failed', nextAttemptAt: null, lastError: `endpoint disabled${endpoint.disabledReason ? `: ${endpoint.disabledReason}` : ''}`.slice(0, MAX_ERROR_LENGTH) },
      });
      return { outcome: 'failed' };
    }
    if (delivery.nextAttemptAt && delivery.nextAttemptAt > start) return { outcome: 'not_due', nextAttemptAt: delivery.nextAttemptAt };

    const attempts = delivery.attempts + 1;
    const leaseUntil = new Date(start.getTime() + timeoutMs + LEASE_MARGIN_MS);
    const claimed = await deps.prisma.webhookDelivery.updateMany({
      where: { id: deliveryId, status: 'pending', attempts: delivery.attempts },
      data: { attempts, lastAttemptAt: start, nextAttemptAt: leaseUntil },
    });
    if (claimed.count === 0) return { outcome: 'not_due', nextAttemptAt: leaseUntil };

    const event = await deps.prisma.event.findUnique({ where: { id: delivery.eventId } });
    if (!event) {
      await deps.prisma.webhookDelivery.updateMany({
        where: { id: deliveryId, attempts },
        data: { status: 'failed', nextAttemptAt: null, lastError: 'event no longer exists' },
      });
      return { outcome: 'failed' };
    }

    const secrets = [deps.cipher.decrypt(endpoint.secretCiphertext, endpoint.id)];
    if (endpoint.previousSecretCiphertext && endpoint.previousSecretExpiresAt && endpoint.previousSecretExpiresAt > start) {
      secrets.push(deps.cipher.decrypt(endpoint.previousSecretCiphertext, endpoint.id));
    }
    const body = webhookBody(event);
    const headers = signedHeaders(secrets, event.id, Math.floor(start.getTime() / 1000), body);
    const result = await send(endpoint.url, { ...headers }, body);
    const finished = now();
    const durationMs = finished.getTime() - start.getTime();
    const decision = decideAfterAttempt({
      result,
      attempts,
      failingSince: endpoint.failingSince,
      now: finished,
      policy,
      ...(deps.random ? { random: deps.random } : {}),
    });

    const outcome = await deps.prisma.$transaction(async (tx): Promise<DeliveryOutcome> => {
      const recorded = await tx.webhookDelivery.updateMany({
        where: { id: deliveryId, status: 'pending', attempts },
        data: {
          status: decision.status,
          nextAttemptAt: decision.status === 'pending' ? decision.nextAttemptAt : null,
          responseStatus: result.status ?? null,
          durationMs,
          lastError: describeFailure(result, MAX_ERROR_LENGTH),
        },
      });
      if (recorded.count === 0) return { outcome: 'skipped' }; // superseded: a newer attempt owns the row
      if (decision.status === 'succeeded') {
        await tx.webhookEndpoint.updateMany({ where: { id: endpoint.id, failingSince: { not: null } }, data: { failingSince: null } });
        return { outcome: 'succeeded' };
      }
      await tx.webhookEndpoint.updateMany({ where: { id: endpoint.id, failingSince: null }, data: { failingSince: start } });
      if (decision.status === 'failed' && decision.disableEndpoint) {
        const disabled = await tx.webhookEndpoint.updateMany({
          where: { id: endpoint.id, enabled: true },
          data: { enabled: false, disabledReason: decision.disableEndpoint },
        });
        if (disabled.count === 1) {
          await writeEvent(tx, {
            type: 'webhook_endpoint.disabled',
            tenantId: endpoint.tenantId,
            data: { endpointId: endpoint.id, reason: decision.disableEndpoint },
          });
        }
        return { outcome: 'disabled', reason: decision.disableEndpoint };
      }
      return decision.status === 'pending' ? { outcome: 'retry', nextAttemptAt: decision.nextAttemptAt } : { outcome: 'failed' };
    });

    const logFields = { outcome: outcome.outcome, attempts, responseStatus: result.status, durationMs, error: describeFailure(result) };
    if (outcome.outcome === 'succeeded' || outcome.outcome === 'skipped') log.info(logFields, 'webhook attempt');
    else log.warn(logFields, 'webhook attempt failed');
    deps.onAttempt?.(outcome.outcome);
    return outcome;
  }

  return { deliver };
}

export type Deliverer = ReturnType<typeof createDeliverer>;
