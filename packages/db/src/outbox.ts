import { randomUUID } from 'node:crypto';
import type { EventType } from '@lever-connect/runtime';
import type { Db } from './client.js';
import type { Prisma } from './generated/prisma/client.js';
import type { Sql } from './sql.js';

/**
 * The outbox: the only writer of `events` rows. A state change and the event that describes it commit
 * together (DESIGN.md invariant 4), either in one statement (the CTE fragments, for the plain-SQL hot paths)
 * or in one Prisma transaction (`writeEvent` with the transaction client). The relay
 * (packages/webhooks) turns committed rows into deliveries.
 */
export interface OutboxEvent {
  type: EventType;
  tenantId?: string | null;
  connectionId?: string | null;
  data: Prisma.InputJsonValue;
}

const COLUMNS = `"id", "type", "tenantId", "connectionId", "data"`;
/** How a JSON array of `outboxRows` reads as a record set (json_to_recordset). */
export const OUTBOX_RECORD = `e("id" uuid, "type" text, "tenantId" uuid, "connectionId" uuid, "data" jsonb)`;

/**
 * `INSERT INTO events` from a FROM clause that yields the record set `e` (OUTBOX_RECORD), optionally guarded
 * by a WHERE. Every SQL writer of events goes through this one statement shape.
 */
export function insertEventsFrom(from: string, where = ''): string {
  return `INSERT INTO "events" (${COLUMNS})
    SELECT e."id", e."type", e."tenantId", e."connectionId", e."data"
      FROM ${from}
     ${where}`;
}

/**
 * A data-modifying CTE (named `outbox`) that writes `events` only if the CTE named `guard` returned a row:
 * the state change and its events are one statement, in one round trip. `param` is the placeholder of
 * `outboxJson(events)`.
 */
export function outboxCte(guard: string, param: string): string {
  return `outbox AS (${insertEventsFrom(`json_to_recordset(${param}::json) AS ${OUTBOX_RECORD}`, `WHERE EXISTS (SELECT 1 FROM ${guard})`)})`;
}

/** The outbox rows of `events`, each with its id, as the CTEs read them. */
export function outboxRows(events: readonly OutboxEvent[]) {
  return events.map((e) => ({ id: randomUUID(), type: e.type, tenantId: e.tenantId ?? null, connectionId: e.connectionId ?? null, data: e.data }));
}

export function outboxJson(events: readonly OutboxEvent[]): string {
  return JSON.stringify(outboxRows(events));
}

/** Outbox rows in plain SQL (a hot path, or inside `inTransaction`), unconditionally. */
export async function insertEvents(sql: Sql, events: readonly OutboxEvent[]): Promise<void> {
  if (events.length === 0) return;
  await sql.query(`WITH one AS (SELECT 1), ${outboxCte('one', '$1')} SELECT 1`, [outboxJson(events)]);
}

/**
 * Writes one event unless an event with the same `dedupeKey` exists (a sender that delivers twice: Lever
 * retries its webhooks), in one INSERT. Returns whether this call stored it.
 */
export async function insertEventOnce(sql: Sql, event: OutboxEvent, dedupeKey: string): Promise<boolean> {
  const rows = await sql.query(
    `INSERT INTO "events" ("id", "type", "tenantId", "connectionId", "data", "dedupeKey")
     VALUES (gen_random_uuid(), $1, $2, $3, $4::jsonb, $5)
     ON CONFLICT ("dedupeKey") DO NOTHING
     RETURNING "id"`,
    [event.type, event.tenantId ?? null, event.connectionId ?? null, JSON.stringify(event.data), dedupeKey],
  );
  return rows.length > 0;
}

/**
 * Writes one outbox row through Prisma. Call it with the transaction client of the change it describes, so
 * the change and its event commit together. Returns the row (its id and time name it in responses).
 * `relayedAt`: an event born with its deliveries (a webhook test), which the relay must skip.
 */
export async function writeEvent(db: Db, event: OutboxEvent, options: { relayedAt?: Date } = {}): Promise<{ id: string; createdAt: Date }> {
  return db.event.create({
    data: {
      type: event.type,
      tenantId: event.tenantId ?? null,
      connectionId: event.connectionId ?? null,
      data: event.data,
      ...(options.relayedAt ? { relayedAt: options.relayedAt } : {}),
    },
    select: { id: true, createdAt: true },
  });
}
