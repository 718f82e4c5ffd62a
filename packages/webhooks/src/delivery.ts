import type { Config } from '@lever-connect/config';
import type { TokenCipher } from '@lever-connect/crypto';
import { writeEvent, type Db, type PrismaClient } from '@lever-connect/db';
import type { Logger } from 'pino';
import { fetch as undiciFetch } from 'undici';
import { createGuardedAgent } from './guarded-agent.js';
import { webhookBody } from './payload.js';
import { decideAfterAttempt, describeFailure, failureRunGapMs, isSuccess, type AttemptResult } from './retry-policy.js';
import { signedHeaders } from './signature.js';
import { parseAllowList, parseWebhookUrl, WebhookUrlNotAllowedError, type LookupAll } from './url-policy.js';

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
  config: Pick<Config, 'webhooks'>;
  log: Logger;
  /**
   * The HTTP client, default undici's `fetch`. It must send through `init.dispatcher`: that dispatcher is
   * what refuses private addresses, at connect time.
   */
  fetch?: typeof undiciFetch;
  now?: () => Date;
  random?: () => number;
  /** Resolves endpoint hosts when connecting (default: the system resolver); tests script its answers. */
  lookup?: LookupAll;
  /** Per-attempt timeout, ms. Default DELIVERY_TIMEOUT_MS (tests shorten it). */
  timeoutMs?: number;
  /** Called once per finished attempt (metrics). */
  onAttempt?: (outcome: DeliveryOutcome['outcome']) => void;
}

/** Why an attempt got no answer, for `lastError`: our refusal in its own words, else the network's code. */
function describeSendError(error: unknown, timeoutMs: number): string {
  const err = error as Error & { cause?: unknown };
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  for (let cause: unknown = err; cause instanceof Error; cause = cause.cause) {
    if (cause instanceof WebhookUrlNotAllowedError) return cause.message;
  }
  const cause = err.cause as { code?: string; message?: string } | undefined;
  return cause?.code ?? cause?.message ?? err.message;
}

/**
 * Makes one delivery attempt and records it in the row. The row is claimed first (attempts + 1, a lease in
 * `nextAttemptAt`), and the outcome is written only if the row is still at that attempt: a worker that was
 * presumed dead and replaced cannot overwrite its successor's result. A crash after the claim leaves a
 * pending row whose lease expires, which the sweep re-enqueues: delivery is at least once.
 */
export function createDeliverer(deps: DelivererDeps) {
  const now = deps.now ?? (() => new Date());
  const doFetch = deps.fetch ?? undiciFetch;
  const timeoutMs = deps.timeoutMs ?? DELIVERY_TIMEOUT_MS;
  const policy = deps.config.webhooks;
  const guarded = policy.ssrfGuard;
  // The address check happens when connecting, not before: a check that resolves the name on its own could
  // be answered differently from the connection that follows (DNS rebinding).
  const dispatcher = createGuardedAgent({
    guarded,
    allowList: parseAllowList(policy.allowedHosts),
    ...(deps.lookup ? { lookup: deps.lookup } : {}),
  });

  async function send(rawUrl: string, headers: Record<string, string>, body: string): Promise<AttemptResult> {
    let url: URL;
    try {
      url = parseWebhookUrl(rawUrl, { guarded });
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
        dispatcher,
      });
      await response.body?.cancel().catch(() => undefined);
      return { status: response.status };
    } catch (error) {
      return { error: describeSendError(error, timeoutMs) };
    }
  }

  /**
   * When the endpoint last failed, if within the failure-run gap before `at` (else null): the run goes on
   * only while failures keep coming. Read from the recorded attempts of all its deliveries (this one's
   * previous attempt included; the current attempt is not recorded yet). Newest deliveries first, since
   * they hold the recent attempts, so a failing endpoint is answered from its first rows.
   */
  async function recentFailureAt(db: Db, endpointId: string, at: Date): Promise<Date | null> {
    const row = await db.webhookDelivery.findFirst({
      where: { endpointId, lastError: { not: null }, lastAttemptAt: { gte: new Date(at.getTime() - failureRunGapMs(policy)) } },
      orderBy: { seq: 'desc' },
      select: { lastAttemptAt: true },
    });
    return row?.lastAttemptAt ?? null;
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
    // `lastAttemptAt` is written with the attempt's result, not here: the row's lastAttemptAt, responseStatus
    // and lastError then always describe the same attempt, which the failure-run check relies on (a claim
    // must not make an old failure look recent).
    const claimed = await deps.prisma.webhookDelivery.updateMany({
      where: { id: deliveryId, status: 'pending', attempts: delivery.attempts },
      data: { attempts, nextAttemptAt: leaseUntil },
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

    const secrets = [deps.cipher.decrypt(endpoint.secretCiphertext, { row: endpoint.id, column: 'secret' })];
    if (endpoint.previousSecretCiphertext && endpoint.previousSecretExpiresAt && endpoint.previousSecretExpiresAt > start) {
      secrets.push(deps.cipher.decrypt(endpoint.previousSecretCiphertext, { row: endpoint.id, column: 'previousSecret' }));
    }
    const body = webhookBody(event);
    const headers = signedHeaders(secrets, event.id, Math.floor(start.getTime() / 1000), body);
    const result = await send(endpoint.url, { ...headers }, body);
    const finished = now();
    const durationMs = finished.getTime() - start.getTime();
    const outcome = await deps.prisma.$transaction(async (tx): Promise<DeliveryOutcome> => {
      // The endpoint's failure run as it is now, locked: concurrent deliveries to one endpoint decide one after
      // the other, each on the run the previous one left. Read before the lock, a run another delivery had
      // just restarted (after an outage of ours) read as the old one still going, and disabled the endpoint.
      const [locked] = await tx.$queryRaw<Array<{ failingSince: Date | null }>>`
        SELECT "failingSince" FROM "webhook_endpoints" WHERE "id" = ${endpoint.id}::uuid FOR UPDATE`;
      const failingSince = locked?.failingSince ?? null;
      const decision = decideAfterAttempt({
        result,
        attempts,
        failingSince,
        lastFailureAt: failingSince && !isSuccess(result) ? await recentFailureAt(tx, endpoint.id, finished) : null,
        now: finished,
        policy,
        ...(deps.random ? { random: deps.random } : {}),
      });
      const recorded = await tx.webhookDelivery.updateMany({
        where: { id: deliveryId, status: 'pending', attempts },
        data: {
          status: decision.status,
          lastAttemptAt: start,
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
      // This failure starts a run when none was stored or the stored one lapsed. Conditional on the value
      // read, so a concurrent change is not overwritten with a stale run; if a success cleared the run
      // meanwhile, this failure starts the next one.
      const startsRun = decision.failingSince.getTime() !== failingSince?.getTime();
      await tx.webhookEndpoint.updateMany({
        where: { id: endpoint.id, OR: [{ failingSince: null }, ...(startsRun && failingSince ? [{ failingSince }] : [])] },
        data: { failingSince: startsRun ? decision.failingSince : finished },
      });
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
