import { randomUUID } from 'node:crypto';
import type { Db, Prisma, Sql } from '@lever-connect/db';

/** Every domain event type. Webhooks deliver these; `GET /v1/events` lists them. */
export const EVENT_TYPES = [
  'connection.created',
  'connection.reauthorized',
  'connection.refreshed',
  'connection.needs_reauth',
  'connection.refresh_failing',
  'connection.recovered',
  'connection.expiring',
  'connection.deleted',
  'oauth_app.invalid_credentials',
  'webhook.test',
  'webhook_endpoint.disabled',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface ConnectionEventSubject {
  id: string;
  environment: string;
  status: string;
  tenantId: string;
  tenant: { externalId: string };
}

/** `data` of every `connection.*` event. Never a token. */
export function connectionEventData(connection: ConnectionEventSubject, extra: { reason?: string | null } = {}) {
  return {
    connection: {
      id: connection.id,
      tenant: { externalId: connection.tenant.externalId },
      environment: connection.environment,
      status: connection.status,
      ...(extra.reason ? { reason: extra.reason } : {}),
    },
  };
}

/**
 * Writes an outbox row. Call it with the transaction client of the change it describes, so the change and
 * its event commit together (DESIGN.md invariant 4).
 */
export async function writeEvent(
  db: Db,
  event: { type: EventType; tenantId?: string | null; connectionId?: string | null; data: Prisma.InputJsonValue },
): Promise<void> {
  await db.event.create({
    data: {
      type: event.type,
      tenantId: event.tenantId ?? null,
      connectionId: event.connectionId ?? null,
      data: event.data,
    },
  });
}

export async function writeConnectionEvent(
  db: Db,
  type: EventType,
  connection: ConnectionEventSubject,
  extra: { reason?: string | null } = {},
): Promise<void> {
  await writeEvent(db, {
    type,
    tenantId: connection.tenantId,
    connectionId: connection.id,
    data: connectionEventData(connection, extra),
  });
}

export interface OutboxEvent {
  type: EventType;
  tenantId?: string | null;
  connectionId?: string | null;
  data: Prisma.InputJsonValue;
}

export const connectionEvent = (type: EventType, connection: ConnectionEventSubject, extra: { reason?: string | null } = {}): OutboxEvent => ({
  type,
  tenantId: connection.tenantId,
  connectionId: connection.id,
  data: connectionEventData(connection, extra),
});

/**
 * A data-modifying CTE that writes `events` as outbox rows only if the CTE named `guard` returned a row:
 * the state change and its events are one statement, so they commit together, in one round trip
 * (DESIGN.md invariant 4). `param` is the placeholder of the JSON array `outboxJson(events)`.
 */
export function outboxCte(guard: string, param: string): string {
  return `outbox AS (
    INSERT INTO "events" ("id", "type", "tenantId", "connectionId", "data")
    SELECT e."id", e."type", e."tenantId", e."connectionId", e."data"
      FROM json_to_recordset(${param}::json) AS e("id" uuid, "type" text, "tenantId" uuid, "connectionId" uuid, "data" jsonb)
     WHERE EXISTS (SELECT 1 FROM ${guard})
  )`;
}

/** The outbox rows of `events`, each with its id, as the outbox CTEs read them. */
export function outboxRows(events: readonly OutboxEvent[]) {
  return events.map((e) => ({ id: randomUUID(), type: e.type, tenantId: e.tenantId ?? null, connectionId: e.connectionId ?? null, data: e.data }));
}

export function outboxJson(events: readonly OutboxEvent[]): string {
  return JSON.stringify(outboxRows(events));
}

/** Outbox rows in plain SQL on a hot path (see packages/db/src/sql.ts), unconditionally. */
export async function insertEvents(sql: Sql, events: readonly OutboxEvent[]): Promise<void> {
  if (events.length === 0) return;
  await sql.query(`WITH one AS (SELECT 1), ${outboxCte('one', '$1')} SELECT 1`, [outboxJson(events)]);
}
