import { writeEvent, type Db, type OutboxEvent } from '@lever-connect/db';
import type { EventType } from '@lever-connect/runtime';

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

/** The outbox event describing a change of `connection` (written by the statement or transaction that makes it). */
export const connectionEvent = (type: EventType, connection: ConnectionEventSubject, extra: { reason?: string | null } = {}): OutboxEvent => ({
  type,
  tenantId: connection.tenantId,
  connectionId: connection.id,
  data: connectionEventData(connection, extra),
});

/** Writes a connection's event through the outbox, with the transaction client of the change it describes. */
export async function writeConnectionEvent(
  db: Db,
  type: EventType,
  connection: ConnectionEventSubject,
  extra: { reason?: string | null } = {},
): Promise<void> {
  await writeEvent(db, connectionEvent(type, connection, extra));
}
