import { randomUUID } from 'node:crypto';
import type { Config } from '@lever-connect/config';
import { DecryptionError, type CiphertextStore, type TokenCipher } from '@lever-connect/crypto';
import { ciphertextTable, sqlOf, writeEvent, type Database, type Prisma, type PrismaClient } from '@lever-connect/db';
import { ConflictError, NotFoundError, ValidationError } from '@lever-connect/errors';
import { DEFAULT_EVENT_TYPES, effectiveEventTypes, isSubscribable } from './subscriptions.js';
import { generateWebhookSecret } from './signature.js';
import { assertWebhookUrlAllowed, parseAllowList, type LookupAll } from './url-policy.js';

/** How long the previous secret keeps signing after a rotation, by default (seconds). */
export const DEFAULT_OVERLAP_SECONDS = 86_400;
export const MAX_OVERLAP_SECONDS = 7 * 86_400;

export interface WebhookEndpointRecord {
  id: string;
  url: string;
  description: string | null;
  /** The effective subscription (the default set when the endpoint names none). */
  eventTypes: string[];
  tenantExternalId: string | null;
  enabled: boolean;
  disabledReason: string | null;
  failingSince: Date | null;
  previousSecretExpiresAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface CreateEndpointInput {
  url: string;
  /** Omitted: the default set (all but connection.refreshed and connection.refresh_failed). */
  eventTypes?: string[] | undefined;
  tenantExternalId?: string | undefined;
  enabled?: boolean | undefined;
  description?: string | undefined;
}

export interface UpdateEndpointInput {
  url?: string | undefined;
  /** null resets to the default set. */
  eventTypes?: string[] | null | undefined;
  tenantExternalId?: string | null | undefined;
  enabled?: boolean | undefined;
  description?: string | null | undefined;
}

export interface DeliveryRecord {
  id: string;
  eventId: string;
  eventType: string | null;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  responseStatus: number | null;
  durationMs: number | null;
  lastError: string | null;
  nextAttemptAt: Date | null;
  lastAttemptAt: Date | null;
  createdAt: Date;
  seq: string;
}

export interface WebhookEndpointServiceDeps {
  prisma: PrismaClient;
  /**
   * The id of the tenant with this external id, created on first use (the domain's tenants), so an endpoint
   * may subscribe before the tenant's first connection.
   */
  tenantIdOf(externalId: string): Promise<string>;
  cipher: Pick<TokenCipher, 'encrypt' | 'decrypt'>;
  config: Pick<Config, 'webhooks'>;
  /** Hands deliveries to the queue now. Failure is tolerated: the worker's sweep finds the rows. */
  enqueueNow?: (deliveryId: string) => Promise<void>;
  lookup?: LookupAll;
  now?: () => Date;
}

const include = { tenant: { select: { externalId: true } } } as const;
type EndpointRow = Prisma.WebhookEndpointGetPayload<{ include: typeof include }>;

function toRecord(row: EndpointRow): WebhookEndpointRecord {
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    eventTypes: [...effectiveEventTypes(row.eventTypes)],
    tenantExternalId: row.tenant?.externalId ?? null,
    enabled: row.enabled,
    disabledReason: row.disabledReason,
    failingSince: row.failingSince,
    previousSecretExpiresAt: row.previousSecretExpiresAt,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

function checkEventTypes(eventTypes: string[]): string[] {
  const unknown = eventTypes.filter((t) => !isSubscribable(t));
  if (unknown.length) throw new ValidationError(`eventTypes: unknown event type "${unknown[0]}"`, { field: 'eventTypes', unknown });
  const unique = [...new Set(eventTypes)];
  // Naming exactly the default set is stored as "default", so it follows new event types as they are added.
  const isDefault = unique.length === DEFAULT_EVENT_TYPES.length && DEFAULT_EVENT_TYPES.every((t) => unique.includes(t));
  return isDefault ? [] : unique;
}

/**
 * Webhook endpoints: CRUD, secret rotation, the deliveries view and manual retry, test events. The signing
 * secret is returned only by `create` and `rotateSecret`, and stored encrypted, bound to the endpoint's id and
 * its column.
 */
export function createWebhookEndpointService(deps: WebhookEndpointServiceDeps) {
  const { prisma, cipher } = deps;
  const now = deps.now ?? (() => new Date());
  const urlPolicy = {
    guarded: deps.config.webhooks.ssrfGuard,
    allowList: parseAllowList(deps.config.webhooks.allowedHosts),
    ...(deps.lookup ? { lookup: deps.lookup } : {}),
  };

  async function find(id: string): Promise<EndpointRow> {
    const row = await prisma.webhookEndpoint.findUnique({ where: { id }, include });
    if (!row) throw new NotFoundError('Webhook endpoint');
    return row;
  }

  /**
   * The current secret, to keep signing beside the new one; null when it no longer decrypts (its key was
   * removed, or the row was tampered with): it cannot sign anyway, and rotating is how to recover.
   */
  function outgoingSecret(row: EndpointRow): string | null {
    try {
      return cipher.decrypt(row.secretCiphertext, { row: row.id, column: 'secret' });
    } catch (error) {
      if (error instanceof DecryptionError) return null;
      throw error;
    }
  }

  async function tenantIdOf(externalId: string | null | undefined): Promise<string | null | undefined> {
    if (externalId === undefined) return undefined;
    if (externalId === null) return null;
    return deps.tenantIdOf(externalId);
  }

  async function enqueue(deliveryId: string) {
    await deps.enqueueNow?.(deliveryId).catch(() => undefined);
  }

  return {
    async create(input: CreateEndpointInput): Promise<{ endpoint: WebhookEndpointRecord; secret: string }> {
      const url = (await assertWebhookUrlAllowed(input.url, urlPolicy)).toString();
      const eventTypes = input.eventTypes ? checkEventTypes(input.eventTypes) : [];
      const tenantId = await tenantIdOf(input.tenantExternalId);
      const id = randomUUID();
      const secret = generateWebhookSecret();
      const row = await prisma.webhookEndpoint.create({
        data: {
          id,
          url,
          description: input.description ?? null,
          eventTypes,
          tenantId: tenantId ?? null,
          enabled: input.enabled ?? true,
          secretCiphertext: cipher.encrypt(secret, { row: id, column: 'secret' }),
        },
        include,
      });
      return { endpoint: toRecord(row), secret };
    },

    async list(): Promise<WebhookEndpointRecord[]> {
      const rows = await prisma.webhookEndpoint.findMany({ orderBy: [{ createdAt: 'asc' }, { id: 'asc' }], include });
      return rows.map(toRecord);
    },

    async get(id: string): Promise<WebhookEndpointRecord> {
      return toRecord(await find(id));
    },

    async update(id: string, input: UpdateEndpointInput): Promise<WebhookEndpointRecord> {
      const current = await find(id);
      const url = input.url !== undefined ? (await assertWebhookUrlAllowed(input.url, urlPolicy)).toString() : undefined;
      const tenantId = await tenantIdOf(input.tenantExternalId);
      const reenable = input.enabled === true && !current.enabled;
      const row = await prisma.webhookEndpoint.update({
        where: { id },
        data: {
          ...(url !== undefined ? { url } : {}),
          ...(input.eventTypes !== undefined ? { eventTypes: input.eventTypes === null ? [] : checkEventTypes(input.eventTypes) } : {}),
          ...(tenantId !== undefined ? { tenantId } : {}),
          ...(input.description !== undefined ? { description: input.description } : {}),
          ...(input.enabled !== undefined ? { enabled: input.enabled } : {}),
          // Re-enabling starts a fresh failure clock; the old reason no longer applies.
          ...(reenable ? { disabledReason: null, failingSince: null } : {}),
          ...(input.enabled === false && current.enabled ? { disabledReason: 'disabled by the operator' } : {}),
        },
        include,
      });
      return toRecord(row);
    },

    async remove(id: string): Promise<void> {
      const { count } = await prisma.webhookEndpoint.deleteMany({ where: { id } });
      if (count === 0) throw new NotFoundError('Webhook endpoint');
    },

    /**
     * A new secret, returned once. The previous one keeps signing alongside it for `overlapSeconds`, so
     * receivers can switch without dropping a message. A second rotation within the window drops the oldest.
     */
    async rotateSecret(id: string, options: { overlapSeconds?: number | undefined } = {}) {
      const overlapSeconds = options.overlapSeconds ?? DEFAULT_OVERLAP_SECONDS;
      if (!Number.isInteger(overlapSeconds) || overlapSeconds < 0 || overlapSeconds > MAX_OVERLAP_SECONDS) {
        throw new ValidationError(`overlapSeconds: must be a whole number from 0 to ${MAX_OVERLAP_SECONDS}`, { field: 'overlapSeconds' });
      }
      const current = await find(id);
      const secret = generateWebhookSecret();
      // The outgoing secret moves to the previousSecret column, so it is sealed again for that column (a
      // ciphertext is bound to its row and column: copied as it is, it would no longer decrypt there).
      const previous = overlapSeconds > 0 ? outgoingSecret(current) : null;
      const row = await prisma.webhookEndpoint.update({
        where: { id },
        data: {
          secretCiphertext: cipher.encrypt(secret, { row: id, column: 'secret' }),
          previousSecretCiphertext: previous === null ? null : cipher.encrypt(previous, { row: id, column: 'previousSecret' }),
          previousSecretExpiresAt: previous === null ? null : new Date(now().getTime() + overlapSeconds * 1000),
        },
        include,
      });
      return { endpoint: toRecord(row), secret };
    },

    /** Deliveries to one endpoint, newest first, paginated by `seq` (pass the returned cursor back). */
    async listDeliveries(
      endpointId: string,
      query: { status?: 'pending' | 'succeeded' | 'failed' | undefined; limit?: number | undefined; cursor?: string | undefined } = {},
    ): Promise<{ data: DeliveryRecord[]; nextCursor: string | null }> {
      await find(endpointId);
      const limit = query.limit ?? 50;
      const rows = await prisma.webhookDelivery.findMany({
        where: { endpointId, ...(query.status ? { status: query.status } : {}), ...(query.cursor ? { seq: { lt: BigInt(query.cursor) } } : {}) },
        orderBy: { seq: 'desc' },
        take: limit + 1,
      });
      const page = rows.slice(0, limit);
      const events = await prisma.event.findMany({ where: { id: { in: page.map((r) => r.eventId) } }, select: { id: true, type: true } });
      const typeOf = new Map(events.map((e) => [e.id, e.type]));
      return {
        data: page.map((r) => ({
          id: r.id,
          seq: r.seq.toString(),
          eventId: r.eventId,
          eventType: typeOf.get(r.eventId) ?? null,
          status: r.status,
          attempts: r.attempts,
          responseStatus: r.responseStatus,
          durationMs: r.durationMs,
          lastError: r.lastError,
          nextAttemptAt: r.nextAttemptAt,
          lastAttemptAt: r.lastAttemptAt,
          createdAt: r.createdAt,
        })),
        nextCursor: rows.length > limit ? page[page.length - 1]!.seq.toString() : null,
      };
    },

    /** Re-arms a failed or pending delivery to be attempted now (a failed one gets one more attempt). */
    async retryDelivery(endpointId: string, deliveryId: string): Promise<void> {
      const endpoint = await find(endpointId);
      const delivery = await prisma.webhookDelivery.findFirst({ where: { id: deliveryId, endpointId } });
      if (!delivery) throw new NotFoundError('Webhook delivery');
      if (delivery.status === 'succeeded') throw new ConflictError('delivery_already_succeeded', 'This delivery already succeeded');
      if (!endpoint.enabled) throw new ConflictError('webhook_endpoint_disabled', 'Enable the endpoint before retrying its deliveries');
      await prisma.webhookDelivery.updateMany({
        where: { id: deliveryId, status: { not: 'succeeded' } },
        data: { status: 'pending', nextAttemptAt: now() },
      });
      await enqueue(deliveryId);
    },

    /**
     * Writes a `webhook.test` event for this endpoint only, with its delivery, in one transaction (the relay
     * skips it: it is born relayed), then hands the delivery to the queue.
     */
    async sendTest(endpointId: string): Promise<{ eventId: string; deliveryId: string }> {
      const endpoint = await find(endpointId);
      if (!endpoint.enabled) throw new ConflictError('webhook_endpoint_disabled', 'Enable the endpoint before sending it a test event');
      const at = now();
      const result = await prisma.$transaction(async (tx) => {
        const event = await writeEvent(tx, { type: 'webhook.test', tenantId: endpoint.tenantId, data: { endpointId } }, { relayedAt: at });
        const delivery = await tx.webhookDelivery.create({ data: { eventId: event.id, endpointId, nextAttemptAt: at } });
        return { eventId: event.id, deliveryId: delivery.id };
      });
      await enqueue(result.deliveryId);
      return result;
    },
  };
}

export type WebhookEndpointService = ReturnType<typeof createWebhookEndpointService>;

/**
 * The signing secrets' ciphertexts, for `pnpm cli keys reencrypt`: both columns are compared with what was
 * read, so a rotation that landed meanwhile is never overwritten.
 */
export function endpointCiphertexts(database: Pick<Database, 'pool'>): CiphertextStore {
  return ciphertextTable(sqlOf(database.pool), {
    name: 'webhook endpoints',
    table: 'webhook_endpoints',
    columns: { secret: 'secretCiphertext', previousSecret: 'previousSecretCiphertext' },
  });
}
