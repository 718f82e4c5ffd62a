import { SQL_NOW, ts, type Sql } from '@lever-connect/db';
import { toConnection, type ConnectionRow, type ConnectionWithTenant } from './connection-rows.js';

/**
 * What claiming the refresh lease writes, shared by claimLease and claimNextDue so the two claims cannot drift.
 * `owner` and `ttlSecs` are SQL expressions (a parameter or a column of the batch). Uses the database's clock
 * so process clocks cannot disagree about expiry; also records the attempt and the refresh token's use.
 */
const claimLeaseSet = (owner: string, ttlSecs: string) => `
       "leaseOwner" = ${owner},
       "leaseExpiresAt" = ${SQL_NOW} + make_interval(secs => ${ttlSecs}),
       "lastRefreshAttemptAt" = ${SQL_NOW},
       -- Taking over an expired lease means its holder died mid-refresh (SIGKILL, crash): Lever may have
       -- rotated the token we hold, so a later invalid_grant is our loss, not the customer's.
       "lastAttemptAmbiguous" = c."lastAttemptAmbiguous" OR c."leaseOwner" IS NOT NULL,
       "refreshTokenLastUsedAt" = ${SQL_NOW}`;

/** The lease may be claimed: nobody holds it, or its holder's time ran out. */
const LEASE_FREE = `(c."leaseOwner" IS NULL OR c."leaseExpiresAt" < ${SQL_NOW})`;

/**
 * The refresh lease, the second guard after the Redis lock (DESIGN.md): claiming it (one row, or the sweep's
 * batch of due rows), reading it, freeing it, and what the scheduler reads to know when to wake. Part of the
 * connection repo (connection-repo.ts spreads these into it).
 */
export function leaseStatements(sql: Sql) {
  return {
    /**
     * Claims the refresh lease on the row (the second guard after the Redis lock). Succeeds only for the
     * version we read, while the connection is active and no unexpired lease is held (claimLeaseSet says
     * what the claim writes). `tookOver` tells that an expired lease of another holder was taken: that
     * holder died or lost its database mid-refresh.
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
            SET ${claimLeaseSet('$3', '$4::double precision')},
                -- Due again when this lease runs out: should its holder die after Lever rotated, a sweep retries
                -- within Lever's reuse leeway instead of at the old schedule (up to an hour later, grant gone).
                -- Every end of the attempt (stored, failed, released with a delay) writes its own schedule.
                "nextRefreshAt" = LEAST(COALESCE(c."nextRefreshAt", 'infinity'), ${SQL_NOW} + make_interval(secs => $4::double precision))
           FROM previous
          WHERE c."id" = $1
            AND c."version" = $2
            AND c."status" = 'active'
            AND ${LEASE_FREE}
         RETURNING c."lastAttemptAmbiguous", previous."leaseOwner" IS NOT NULL AS "tookOver"`,
        [id, version, owner, ttlMs / 1000],
      );
      return rows[0] ?? null;
    },

    /**
     * The refresh sweep's claim: up to `limit` active connections whose next_refresh_at has come and whose
     * lease is free, earliest first, each claimed for `owner` (claimLeaseSet) and returned as claimed, in one
     * statement. SKIP LOCKED makes concurrent sweeps of several processes claim disjoint rows instead of
     * queueing on each other's row locks. Rows without a refresh token are claimed too: the refresher marks
     * them needs_reauth.
     */
    async claimNextDue(owner: string, ttlMs: number, now: Date, limit: number): Promise<Array<{ connection: ConnectionWithTenant; tookOver: boolean }>> {
      const rows = await sql.query<ConnectionRow & { tookOver: boolean }>(
        `WITH picked AS (
           SELECT c."id", c."leaseOwner" FROM "connections" c
            WHERE c."status" = 'active' AND c."nextRefreshAt" <= $3::timestamp AND ${LEASE_FREE}
            ORDER BY c."nextRefreshAt"
            LIMIT $4
              FOR UPDATE SKIP LOCKED
         )
         UPDATE "connections" c
            SET ${claimLeaseSet('$1', '$2::double precision')}
           FROM picked p, "tenants" t
          WHERE c."id" = p."id" AND t."id" = c."tenantId"
         RETURNING c.*, t."externalId" AS "tenantExternalId", p."leaseOwner" IS NOT NULL AS "tookOver"`,
        [owner, ttlMs / 1000, ts(now), limit],
      );
      return rows
        .map(({ tookOver, ...row }) => ({ connection: toConnection(row), tookOver }))
        .sort((a, b) => (a.connection.nextRefreshAt?.getTime() ?? 0) - (b.connection.nextRefreshAt?.getTime() ?? 0));
    },

    /**
     * The earliest scheduled active connections (up to `limit`), with whether each one's lease is held: the
     * scheduler's next wake-up comes from these (a leased row is due again when its lease runs out).
     */
    async earliestDue(limit: number): Promise<Array<{ nextRefreshAt: Date; leaseExpiresAt: Date | null; leased: boolean }>> {
      return sql.query(
        `SELECT "nextRefreshAt", "leaseExpiresAt", ("leaseOwner" IS NOT NULL AND "leaseExpiresAt" >= ${SQL_NOW}) AS "leased"
           FROM "connections"
          WHERE "status" = 'active' AND "nextRefreshAt" IS NOT NULL
          ORDER BY "nextRefreshAt"
          LIMIT $1`,
        [limit],
      );
    },

    /** The row's version and lease holder: a taker of an expired lease checks nobody wrote meanwhile. */
    async leaseState(id: string): Promise<{ version: number; leaseOwner: string | null } | null> {
      const rows = await sql.query<{ version: number; leaseOwner: string | null }>(`SELECT "version", "leaseOwner" FROM "connections" WHERE "id" = $1`, [id]);
      return rows[0] ?? null;
    },

    /**
     * Analyzes `connections` if Postgres has never gathered statistics for it (a fresh database filled in
     * bulk, autovacuum off or not there yet). Without them the planner takes a sweep's claim for a few rows
     * and answers it by reading and sorting every due row instead of walking the (status, next_refresh_at)
     * index: each claim then costs O(due connections), in the very storm it should drain. Returns whether it
     * analyzed.
     */
    async ensureStatistics(): Promise<boolean> {
      const known = await sql.query(`SELECT 1 FROM "pg_stats" WHERE "schemaname" = current_schema() AND "tablename" = 'connections' AND "attname" = 'nextRefreshAt'`);
      if (known.length > 0) return false;
      await sql.query('ANALYZE "connections"');
      return true;
    },

    /**
     * Frees our lease without a refresh (nothing was sent to Lever). With `notBefore`, the connection is not
     * due again before then (a busy lock, a spent Lever budget): the sweep would otherwise claim it again at
     * once. A later next_refresh_at (a refresh that landed meanwhile) is kept.
     */
    async releaseLease(id: string, owner: string, notBefore?: Date): Promise<void> {
      if (!notBefore) {
        await sql.query(`UPDATE "connections" SET "leaseOwner" = NULL, "leaseExpiresAt" = NULL WHERE "id" = $1 AND "leaseOwner" = $2`, [id, owner]);
        return;
      }
      await sql.query(
        `UPDATE "connections" SET "leaseOwner" = NULL, "leaseExpiresAt" = NULL, "nextRefreshAt" = GREATEST("nextRefreshAt", $3::timestamp)
          WHERE "id" = $1 AND "leaseOwner" = $2`,
        [id, owner, ts(notBefore)],
      );
    },
  };
}
