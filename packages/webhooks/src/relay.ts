import type { PrismaClient } from '@lever-connect/db';
import { endpointMatches } from './subscriptions.js';

export interface OutboxRelayDeps {
  prisma: PrismaClient;
  now?: () => Date;
  /** Events fanned out per transaction. Default 200. */
  batchSize?: number;
}

interface OutboxRow {
  id: string;
  type: string;
  tenantId: string | null;
  data: unknown;
}

/**
 * Moves outbox events into deliveries. The outbox row is the source of truth: an event is marked relayed in
 * the same transaction that creates its deliveries, so a crash either keeps both or neither. Rows are
 * claimed with `FOR UPDATE SKIP LOCKED`, so relays in several workers take different batches instead of
 * waiting on (or duplicating) each other; the unique (eventId, endpointId) makes a repeated fan-out a no-op.
 */
export function createOutboxRelay(deps: OutboxRelayDeps) {
  const now = deps.now ?? (() => new Date());
  const batchSize = deps.batchSize ?? 200;

  /** Fans out one batch. Returns the new deliveries' ids, to enqueue once committed. */
  async function relayBatch(): Promise<{ events: number; deliveryIds: string[] }> {
    return deps.prisma.$transaction(async (tx) => {
      // Only a webhook.test event's data is read (the endpoint it names); the rest stays in Postgres.
      const events = await tx.$queryRaw<OutboxRow[]>`
        SELECT "id", "type", "tenantId",
               CASE WHEN "type" = 'webhook.test' THEN "data" END AS "data"
          FROM "events"
         WHERE "relayedAt" IS NULL ORDER BY "seq" LIMIT ${batchSize} FOR UPDATE SKIP LOCKED`;
      if (events.length === 0) return { events: 0, deliveryIds: [] };
      const at = now();
      const endpoints = await tx.webhookEndpoint.findMany({
        where: { enabled: true },
        select: { id: true, enabled: true, eventTypes: true, tenantId: true },
      });
      const rows = events.flatMap((event) =>
        endpoints.filter((endpoint) => endpointMatches(endpoint, event)).map((endpoint) => ({ eventId: event.id, endpointId: endpoint.id, nextAttemptAt: at })),
      );
      const created = rows.length
        ? await tx.webhookDelivery.createManyAndReturn({ data: rows, skipDuplicates: true, select: { id: true } })
        : [];
      // One array parameter, not one per id (Prisma's `in` compiles a statement per batch size).
      await tx.$executeRaw`UPDATE "events" SET "relayedAt" = ${at} WHERE "id" = ANY(${events.map((e) => e.id)}::uuid[])`;
      return { events: events.length, deliveryIds: created.map((d) => d.id) };
    });
  }

  return {
    relayBatch,

    /** Relays until the outbox is empty (bounded by `maxBatches`), calling `onDeliveries` after each commit. */
    async relayAll(onDeliveries: (ids: string[]) => Promise<void>, maxBatches = 50): Promise<number> {
      let total = 0;
      for (let i = 0; i < maxBatches; i++) {
        const { events, deliveryIds } = await relayBatch();
        total += events;
        if (deliveryIds.length) await onDeliveries(deliveryIds);
        if (events < batchSize) break;
      }
      return total;
    },

    /**
     * Pending deliveries overdue by more than `graceMs`: their job was lost (Redis flushed or failed over, a
     * crash between commit and enqueue, a lease that expired with its worker). Re-enqueueing them is
     * idempotent, so over-reporting costs nothing.
     */
    async findStranded(graceMs: number, limit = 1_000): Promise<string[]> {
      const rows = await deps.prisma.webhookDelivery.findMany({
        where: { status: 'pending', OR: [{ nextAttemptAt: { lte: new Date(now().getTime() - graceMs) } }, { nextAttemptAt: null }] },
        select: { id: true },
        orderBy: { nextAttemptAt: 'asc' },
        take: limit,
      });
      return rows.map((r) => r.id);
    },
  };
}

export type OutboxRelay = ReturnType<typeof createOutboxRelay>;
