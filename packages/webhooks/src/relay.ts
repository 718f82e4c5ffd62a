import { inTransaction, sqlOf, ts, type Database } from '@lever-connect/db';
import { endpointMatches } from './subscriptions.js';

export interface OutboxRelayDeps {
  database: Pick<Database, 'pool'>;
  now?: () => Date;
  /** Events fanned out per transaction. Default 200. */
  batchSize?: number;
  /** Told after each committed batch how many deliveries it fanned out, per event type (metrics). */
  onFannedOut?(deliveriesByType: Record<string, number>): void;
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
 *
 * Plain SQL on the pg pool (packages/db/src/sql.ts says why): every refresh emits an event, so at a
 * thousand refreshes a second this runs several transactions a second, and through Prisma its five
 * statements per batch were the largest Prisma cost left in the worker.
 */
export function createOutboxRelay(deps: OutboxRelayDeps) {
  const now = deps.now ?? (() => new Date());
  const batchSize = deps.batchSize ?? 200;
  const sql = sqlOf(deps.database.pool);

  /** Fans out one batch. Returns the new deliveries' ids, to enqueue once committed. */
  async function relayBatch(): Promise<{ events: number; deliveryIds: string[] }> {
    return inTransaction(deps.database.pool, async (tx) => {
      // Only a webhook.test event's data is read (the endpoint it names); the rest stays in Postgres.
      const events = await tx.query<OutboxRow>(
        `SELECT "id", "type", "tenantId",
                CASE WHEN "type" = 'webhook.test' THEN "data" END AS "data"
           FROM "events"
          WHERE "relayedAt" IS NULL ORDER BY "seq" LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [batchSize],
      );
      if (events.length === 0) return { events: 0, deliveryIds: [] };
      const at = ts(now());
      const endpoints = await tx.query<{ id: string; enabled: boolean; eventTypes: string[]; tenantId: string | null }>(
        `SELECT "id", "enabled", "eventTypes", "tenantId" FROM "webhook_endpoints" WHERE "enabled"`,
      );
      const rows = events.flatMap((event) =>
        endpoints.filter((endpoint) => endpointMatches(endpoint, event)).map((endpoint) => ({ eventId: event.id, endpointId: endpoint.id })),
      );
      const created = rows.length
        ? await tx.query<{ id: string }>(
            `INSERT INTO "webhook_deliveries" ("id", "eventId", "endpointId", "nextAttemptAt", "updatedAt")
             SELECT gen_random_uuid(), r."eventId", r."endpointId", $2::timestamp(3), $2::timestamp(3)
               FROM json_to_recordset($1::json) AS r("eventId" uuid, "endpointId" uuid)
             ON CONFLICT ("eventId", "endpointId") DO NOTHING
             RETURNING "id"`,
            [JSON.stringify(rows), at],
          )
        : [];
      await tx.query(`UPDATE "events" SET "relayedAt" = $1 WHERE "id" = ANY($2::uuid[])`, [at, events.map((e) => e.id)]);
      return { events: events.length, deliveryIds: created.map((d) => d.id), rows, typeOf: new Map(events.map((e) => [e.id, e.type])) };
    }).then(({ rows = [], typeOf, ...result }) => {
      if (deps.onFannedOut && rows.length > 0) {
        const byType: Record<string, number> = {};
        for (const r of rows) byType[typeOf!.get(r.eventId)!] = (byType[typeOf!.get(r.eventId)!] ?? 0) + 1;
        deps.onFannedOut(byType);
      }
      return result;
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
      const rows = await sql.query<{ id: string }>(
        `SELECT "id" FROM "webhook_deliveries"
          WHERE "status" = 'pending' AND ("nextAttemptAt" <= $1 OR "nextAttemptAt" IS NULL)
          ORDER BY "nextAttemptAt" ASC NULLS LAST LIMIT $2`,
        [ts(new Date(now().getTime() - graceMs)), limit],
      );
      return rows.map((r) => r.id);
    },
  };
}

export type OutboxRelay = ReturnType<typeof createOutboxRelay>;
