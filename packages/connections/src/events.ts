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

/** The same outbox rows as `writeEvent`, in plain SQL inside a hot-path transaction (see packages/db/src/sql.ts). */
export async function insertEvents(sql: Sql, events: readonly OutboxEvent[]): Promise<void> {
  if (events.length === 0) return;
  const values: unknown[] = [];
  const rows = events.map((e) => {
    values.push(randomUUID(), e.type, e.tenantId ?? null, e.connectionId ?? null, JSON.stringify(e.data));
    const n = values.length;
    return `($${n - 4}::uuid, $${n - 3}, $${n - 2}::uuid, $${n - 1}::uuid, $${n}::jsonb)`;
  });
  await sql.query(`INSERT INTO "events" ("id", "type", "tenantId", "connectionId", "data") VALUES ${rows.join(', ')}`, values);
}
