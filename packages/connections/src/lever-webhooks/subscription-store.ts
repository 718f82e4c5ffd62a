import type { CiphertextStore, TokenCipher } from '@lever-connect/crypto';
import { ciphertextTable, sqlOf, type Database } from '@lever-connect/db';

export type SubscriptionState = 'pending' | 'active' | 'failed';

export interface LeverWebhookSubscription {
  id: string;
  connectionId: string;
  event: string;
  state: SubscriptionState;
  leverWebhookId: string | null;
  failureReason: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** What receiving a delivery needs of a subscription: its token (decrypted) and whose it is. */
export interface ReceivingSubscription {
  id: string;
  event: string;
  signatureToken: string;
  connection: { id: string; tenantId: string; tenantExternalId: string; environment: string };
}

const COLUMNS = `"id", "connectionId", "event", "state", "leverWebhookId", "failureReason", "createdAt", "updatedAt"`;

/**
 * The only writer of `lever_webhook_subscriptions` rows: one row per (connection, Lever event), created
 * pending, made active with Lever's webhook id and signature token (encrypted, bound to the row and the
 * column), or failed with Lever's reason.
 */
export function createSubscriptionStore(deps: { database: Pick<Database, 'pool'>; cipher: Pick<TokenCipher, 'encrypt' | 'decrypt'> }) {
  const sql = sqlOf(deps.database.pool);

  return {
    async list(connectionId: string): Promise<LeverWebhookSubscription[]> {
      return sql.query(`SELECT ${COLUMNS} FROM "lever_webhook_subscriptions" WHERE "connectionId" = $1 ORDER BY "event"`, [connectionId]);
    },

    /** The subscription of each event, created pending where there is none. */
    async ensure(connectionId: string, events: readonly string[]): Promise<LeverWebhookSubscription[]> {
      if (events.length > 0) {
        await sql.query(
          `INSERT INTO "lever_webhook_subscriptions" ("id", "connectionId", "event", "updatedAt")
           SELECT gen_random_uuid(), $1, e, timezone('UTC', now()) FROM unnest($2::text[]) AS e
           ON CONFLICT ("connectionId", "event") DO NOTHING`,
          [connectionId, events],
        );
      }
      return this.list(connectionId);
    },

    async markActive(id: string, leverWebhookId: string, signatureToken: string): Promise<void> {
      await sql.query(
        `UPDATE "lever_webhook_subscriptions" SET "state" = 'active', "leverWebhookId" = $2, "signatureTokenCiphertext" = $3,
                "failureReason" = NULL, "updatedAt" = timezone('UTC', now()) WHERE "id" = $1`,
        [id, leverWebhookId, deps.cipher.encrypt(signatureToken, { row: id, column: 'signatureToken' })],
      );
    },

    /** Lever refused it for good; returns whether this changed the state (the event is emitted once). */
    async markFailed(id: string, reason: string): Promise<boolean> {
      const rows = await sql.query(
        `UPDATE "lever_webhook_subscriptions" SET "state" = 'failed', "failureReason" = $2, "updatedAt" = timezone('UTC', now())
          WHERE "id" = $1 AND "state" <> 'failed' RETURNING "id"`,
        [id, reason.slice(0, 500)],
      );
      return rows.length > 0;
    },

    async remove(id: string): Promise<void> {
      await sql.query(`DELETE FROM "lever_webhook_subscriptions" WHERE "id" = $1`, [id]);
    },

    /** For the receiving route: the subscription with its token, or null (unknown, or not active). */
    async forReceiving(id: string): Promise<ReceivingSubscription | null> {
      const rows = await sql.query<{ id: string; event: string; ciphertext: string; connectionId: string; tenantId: string; externalId: string; environment: string }>(
        `SELECT s."id", s."event", s."signatureTokenCiphertext" AS "ciphertext", c."id" AS "connectionId", c."tenantId", t."externalId", c."environment"
           FROM "lever_webhook_subscriptions" s
           JOIN "connections" c ON c."id" = s."connectionId"
           JOIN "tenants" t ON t."id" = c."tenantId"
          WHERE s."id" = $1 AND s."state" = 'active' AND s."signatureTokenCiphertext" IS NOT NULL AND c."status" <> 'disconnected'`,
        [id],
      );
      const row = rows[0];
      if (!row) return null;
      return {
        id: row.id,
        event: row.event,
        signatureToken: deps.cipher.decrypt(row.ciphertext, { row: row.id, column: 'signatureToken' }),
        connection: { id: row.connectionId, tenantId: row.tenantId, tenantExternalId: row.externalId, environment: row.environment },
      };
    },
  };
}

export type SubscriptionStore = ReturnType<typeof createSubscriptionStore>;

/** The signature tokens' ciphertexts, for `pnpm cli keys reencrypt` (rewritten only where unchanged since read). */
export function subscriptionCiphertexts(database: Pick<Database, 'pool'>): CiphertextStore {
  return ciphertextTable(sqlOf(database.pool), {
    name: 'lever webhook subscriptions',
    table: 'lever_webhook_subscriptions',
    columns: { signatureToken: 'signatureTokenCiphertext' },
  });
}
