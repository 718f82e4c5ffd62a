import { sqlOf, SQL_NOW, ts, type Connection, type Database, type Sql } from '@lever-connect/db';
import { outboxCte, outboxJson, type OutboxEvent } from './events.js';

export type ConnectionWithTenant = Connection & { tenant: { externalId: string } };

/** Columns a fenced write may set (never the identity, the version it bumps itself, or the timestamps). */
export type ConnectionColumns = Partial<Omit<Connection, 'id' | 'tenantId' | 'version' | 'createdAt' | 'updatedAt'>>;

type Row = Connection & { tenantExternalId: string };

const toConnection = ({ tenantExternalId, ...row }: Row): ConnectionWithTenant => ({ ...row, tenant: { externalId: tenantExternalId } });

const IDENTIFIER = /^[A-Za-z]+$/;

/**
 * Data access for connections on the hot paths (token read, refresh), in plain SQL through the pool
 * (packages/db/src/sql.ts says why). Token columns are ciphertexts; decrypting is the caller's job.
 */
export function createConnectionRepo(database: Pick<Database, 'pool'>) {
  const sql = sqlOf(database.pool);

  return {
    async findById(id: string, db: Sql = sql): Promise<ConnectionWithTenant | null> {
      const rows = await db.query<Row>(
        `SELECT c.*, t."externalId" AS "tenantExternalId"
           FROM "connections" c JOIN "tenants" t ON t."id" = c."tenantId"
          WHERE c."id" = $1`,
        [id],
      );
      return rows[0] ? toConnection(rows[0]) : null;
    },

    /**
     * Claims the refresh lease on the row (the second guard after the Redis lock). Succeeds only for the
     * version we read, while the connection is active and no unexpired lease is held. Uses the database's
     * clock so process clocks cannot disagree about expiry. Also records the attempt. `tookOver` tells that
     * an expired lease of another holder was taken: that holder died or lost its database mid-refresh.
     */
    async claimLease(
      id: string,
      version: number,
      owner: string,
      ttlMs: number,
    ): Promise<{ lastAttemptAmbiguous: boolean; tookOver: boolean } | null> {
      const rows = await sql.query<{ lastAttemptAmbiguous: boolean; tookOver: boolean }>(
        `WITH previous AS (SELECT "leaseOwner" FROM "connections" WHERE "id" = $1)
         UPDATE "connections" c
            SET "leaseOwner" = $3,
                "leaseExpiresAt" = ${SQL_NOW} + make_interval(secs => $4::double precision),
                "lastRefreshAttemptAt" = ${SQL_NOW},
                -- Taking over an expired lease means its holder died mid-refresh (SIGKILL, crash): Lever may
                -- have rotated the token we hold, so a later invalid_grant is our loss, not the customer's.
                "lastAttemptAmbiguous" = c."lastAttemptAmbiguous" OR c."leaseOwner" IS NOT NULL,
                "refreshTokenLastUsedAt" = ${SQL_NOW}
           FROM previous
          WHERE c."id" = $1
            AND c."version" = $2
            AND c."status" = 'active'
            AND (c."leaseOwner" IS NULL OR c."leaseExpiresAt" < ${SQL_NOW})
         RETURNING c."lastAttemptAmbiguous", previous."leaseOwner" IS NOT NULL AS "tookOver"`,
        [id, version, owner, ttlMs / 1000],
      );
      return rows[0] ?? null;
    },

    async releaseLease(id: string, owner: string): Promise<void> {
      await sql.query(`UPDATE "connections" SET "leaseOwner" = NULL, "leaseExpiresAt" = NULL WHERE "id" = $1 AND "leaseOwner" = $2`, [id, owner]);
    },

    /**
     * The fencing write: applies `columns` only if the row still has `version`, and bumps it, with its
     * outbox `events` in the same statement (written only if the row was). Returns null when someone else
     * wrote first (a reconnect, another refresher), so a stale writer can never overwrite newer tokens;
     * otherwise the row as written.
     */
    async fencedUpdate(id: string, version: number, columns: ConnectionColumns, events: readonly OutboxEvent[] = [], db: Sql = sql): Promise<Connection | null> {
      const names = Object.keys(columns) as Array<keyof ConnectionColumns>;
      const values: unknown[] = [id, version, outboxJson(events)];
      const sets = names.map((name) => {
        if (!IDENTIFIER.test(name)) throw new Error(`not a column: ${name}`);
        const value = columns[name];
        values.push(value instanceof Date ? ts(value) : value);
        return `"${name}" = $${values.length}`;
      });
      const rows = await db.query<Connection>(
        `WITH written AS (
           UPDATE "connections"
              SET ${[...sets, `"version" = "version" + 1`, `"updatedAt" = ${SQL_NOW}`].join(', ')}
            WHERE "id" = $1 AND "version" = $2
          RETURNING *
         ), ${outboxCte('written', '$3')}
         SELECT * FROM written`,
        values,
      );
      return rows[0] ?? null;
    },

    /**
     * Records a failed attempt by the lease holder (never over a reconnect or delete that took the row), and
     * frees the lease; `events` are written with it, in the same statement, only if the row was.
     */
    async recordFailure(
      id: string,
      owner: string,
      failure: { attempt: number; at: Date; reason: string; ambiguous: boolean; failingSince: Date; nextRefreshAt: Date; failingNotified: boolean },
      events: readonly OutboxEvent[],
    ): Promise<boolean> {
      const rows = await sql.query(
        `WITH written AS (
           UPDATE "connections"
              SET "refreshAttemptCount" = $3, "lastRefreshFailedAt" = $4, "lastRefreshError" = $5,
                  -- Sticky until a success: if Lever rotated and we lost the answer, a later invalid_grant is on us.
                  "lastAttemptAmbiguous" = "lastAttemptAmbiguous" OR $6, "failingSince" = $7, "nextRefreshAt" = $8,
                  "leaseOwner" = NULL, "leaseExpiresAt" = NULL,
                  "refreshFailingNotified" = "refreshFailingNotified" OR $9, "updatedAt" = ${SQL_NOW}
            WHERE "id" = $1 AND "leaseOwner" = $2
          RETURNING "id"
         ), ${outboxCte('written', '$10')}
         SELECT "id" FROM written`,
        [id, owner, failure.attempt, ts(failure.at), failure.reason, failure.ambiguous, ts(failure.failingSince), ts(failure.nextRefreshAt), failure.failingNotified, outboxJson(events)],
      );
      return rows.length > 0;
    },
  };
}

export type ConnectionRepo = ReturnType<typeof createConnectionRepo>;
