import type { CiphertextStore } from '@lever-connect/crypto';
import {
  ciphertextTable,
  insertEventsFrom,
  OUTBOX_RECORD,
  outboxCte,
  outboxJson,
  outboxRows,
  sqlOf,
  SQL_NOW,
  ts,
  type Connection,
  type Database,
  type Db,
  type OutboxEvent,
  type Sql,
} from '@lever-connect/db';
import { createBatcher } from './batcher.js';
import { writeConnectionEvent } from './connection-events.js';

export type ConnectionWithTenant = Connection & { tenant: { externalId: string } };

/**
 * What a token read needs of a row (the token endpoint, the proxy's token): no refresh token, no schedule,
 * no lease. The token endpoint is the hottest path, and with the cache off or missed, parsing the whole row
 * (33 columns, a join, and the Dates and arrays they become) was a tenth of its CPU (bench 3's profile).
 */
export type TokenReadRow = Pick<
  Connection,
  'id' | 'tenantId' | 'environment' | 'status' | 'reauthReason' | 'leverAccountId' | 'scopes' | 'accessTokenCiphertext' | 'accessTokenExpiresAt' | 'refreshTokenIssuedAt' | 'version'
>;
const TOKEN_READ_COLUMNS: ReadonlyArray<keyof TokenReadRow> = [
  'id',
  'tenantId',
  'environment',
  'status',
  'reauthReason',
  'leverAccountId',
  'scopes',
  'accessTokenCiphertext',
  'accessTokenExpiresAt',
  'refreshTokenIssuedAt',
  'version',
];
const TOKEN_READ_SELECT = `SELECT ${TOKEN_READ_COLUMNS.map((c) => `"${c}"`).join(', ')} FROM "connections" WHERE "id" = $1`;

/** Columns a fenced write may set (never the identity, the version it bumps itself, or the timestamps). */
export type ConnectionColumns = Partial<Omit<Connection, 'id' | 'tenantId' | 'version' | 'createdAt' | 'updatedAt'>>;

type Row = Connection & { tenantExternalId: string };

const toConnection = ({ tenantExternalId, ...row }: Row): ConnectionWithTenant => ({ ...row, tenant: { externalId: tenantExternalId } });

const IDENTIFIER = /^[A-Za-z]+$/;

/** What storing a fresh token set clears (a rotation, a new grant): the failure run and the lease. */
export const TOKENS_STORED_RESET = {
  refreshAttemptCount: 0,
  lastRefreshError: null,
  lastAttemptAmbiguous: false,
  failingSince: null,
  refreshFailingNotified: false,
  leaseOwner: null,
  leaseExpiresAt: null,
} as const satisfies ConnectionColumns;

/** What a new grant (connect, reconnect) clears on top: the connection starts over, active. */
export const NEW_GRANT_RESET = {
  ...TOKENS_STORED_RESET,
  status: 'active',
  reauthReason: null,
  lastRefreshedAt: null,
  lastRefreshFailedAt: null,
  expiringNotified: false,
} as const satisfies ConnectionColumns;

/** `"column" = literal, ...` of a constant column set (our own constants, never input). */
function literalSets(columns: Readonly<Record<string, number | boolean | string | null>>): string {
  return Object.entries(columns)
    .map(([name, value]) => `"${name}" = ${value === null ? 'NULL' : typeof value === 'string' ? `'${value}'` : String(value)}`)
    .join(',\n                  ');
}

const include = { tenant: { select: { externalId: true } } } as const;

/** The token columns of a new grant (ciphertexts bound to the row id and their column by the caller). */
export interface GrantColumns {
  accessTokenCiphertext: string;
  refreshTokenCiphertext: string;
  accessTokenExpiresAt: Date;
  refreshTokenIssuedAt: Date;
  refreshTokenLastUsedAt: Date;
  grantCreatedAt: Date;
  scopes: string[];
  leverUserId: string | null;
  nextRefreshAt: Date;
  leverWebhookEvents: string[];
}

/** Group-commit sizes (batcher.ts): a batch per statement of at most this many rows, this many in flight. */
const BATCH_MAX = 100;
const BATCH_IN_FLIGHT = 2;

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

/** What a successful refresh writes (storeRotated). Ciphertexts are the caller's (bound to the row id and column). */
export interface RotatedWrite {
  id: string;
  /** The version the write is fenced on. */
  version: number;
  accessTokenCiphertext: string;
  refreshTokenCiphertext: string;
  accessTokenExpiresAt: Date;
  /** When Lever issued this refresh token (also its last use, and the grant's start if none is recorded). */
  issuedAt: Date;
  /** Empty keeps the stored scopes. */
  scopes: string[];
  nextRefreshAt: Date;
  /** Sets expiring_notified (never clears it). */
  expiringNotified: boolean;
  events: readonly OutboxEvent[];
}

/**
 * Data access for connections on the hot paths (token read, refresh), in plain SQL through the pool
 * (packages/db/src/sql.ts says why). Token columns are ciphertexts; decrypting is the caller's job.
 */
export function createConnectionRepo(database: Pick<Database, 'pool' | 'prisma'>) {
  const sql = sqlOf(database.pool);

  // The batched write repeats its ids as `c."id" = ANY($2)`: the join with the JSON batch alone gives the
  // planner no row estimate, and on a table it has no statistics for yet (filled moments ago) it chose to
  // scan every active connection per batch (test/connection-repo.test.ts).
  const storeRotatedBatched = createBatcher<RotatedWrite, Connection | null>(
    async (items) => {
      const rows = await sql.query<Connection>(
        `WITH v AS (
           SELECT * FROM json_to_recordset($1::json) AS v(
             "id" uuid, "version" int, "access" text, "refresh" text, "expiresAt" timestamp, "issuedAt" timestamp,
             "scopes" text[], "nextRefreshAt" timestamp, "expiringNotified" boolean, "events" json)
         ), written AS (
           UPDATE "connections" c
              SET "accessTokenCiphertext" = v."access",
                  "refreshTokenCiphertext" = v."refresh",
                  "accessTokenExpiresAt" = v."expiresAt",
                  "refreshTokenIssuedAt" = v."issuedAt",
                  "refreshTokenLastUsedAt" = v."issuedAt",
                  "lastRefreshedAt" = v."issuedAt",
                  -- Lever may answer without scopes: the granted ones stay.
                  "scopes" = CASE WHEN cardinality(v."scopes") > 0 THEN v."scopes" ELSE c."scopes" END,
                  "nextRefreshAt" = v."nextRefreshAt",
                  ${literalSets(TOKENS_STORED_RESET)},
                  "grantCreatedAt" = COALESCE(c."grantCreatedAt", v."issuedAt"),
                  "expiringNotified" = c."expiringNotified" OR v."expiringNotified",
                  "version" = c."version" + 1,
                  "updatedAt" = ${SQL_NOW}
             FROM v
            WHERE c."id" = v."id" AND c."id" = ANY($2::uuid[]) AND c."version" = v."version"
           RETURNING c.*
         ), outbox AS (
           ${insertEventsFrom(`written w JOIN v ON v."id" = w."id", json_to_recordset(v."events") AS ${OUTBOX_RECORD}`)}
         )
         SELECT * FROM written`,
        [
          JSON.stringify(
            items.map((w) => ({
              id: w.id,
              version: w.version,
              access: w.accessTokenCiphertext,
              refresh: w.refreshTokenCiphertext,
              expiresAt: ts(w.accessTokenExpiresAt),
              issuedAt: ts(w.issuedAt),
              scopes: w.scopes,
              nextRefreshAt: ts(w.nextRefreshAt),
              expiringNotified: w.expiringNotified,
              events: outboxRows(w.events),
            })),
          ),
          items.map((w) => w.id),
        ],
      );
      const byId = new Map(rows.map((row) => [row.id, row]));
      return items.map((w) => byId.get(w.id) ?? null);
    },
    { maxBatch: BATCH_MAX, maxInFlight: BATCH_IN_FLIGHT, keyOf: (w) => w.id },
  );

  return {
    /**
     * Stores a new grant (connect, reconnect) in the caller's transaction, with its event: re-authorizes
     * `existingId` in place (same id; version bumped, so a refresh of the old grant in flight loses its fenced
     * write), or creates the connection. `columns` holds ciphertexts bound to the id and their columns.
     */
    async storeGrant(
      tx: Db,
      target: { existingId: string } | { id: string; tenantId: string; environment: Connection['environment']; leverAccountId: string },
      columns: GrantColumns,
    ): Promise<ConnectionWithTenant> {
      if ('existingId' in target) {
        const connection = await tx.connection.update({
          where: { id: target.existingId },
          data: { ...columns, ...NEW_GRANT_RESET, version: { increment: 1 } },
          include,
        });
        await writeConnectionEvent(tx, 'connection.reauthorized', connection);
        return connection;
      }
      const connection = await tx.connection.create({ data: { ...target, ...columns, ...NEW_GRANT_RESET }, include });
      await writeConnectionEvent(tx, 'connection.created', connection);
      return connection;
    },

    /**
     * Disconnects connections: wipes their tokens, stops refreshes (status leaves `active`, so no sweep claims
     * them), bumps the version so a refresh in flight loses its fenced write, and writes `connection.deleted`
     * in the same transaction. Already-disconnected connections are left alone. Returns the ids disconnected.
     */
    async disconnect(where: { id?: string; tenantId?: string }): Promise<string[]> {
      return database.prisma.$transaction(async (tx) => {
        const targets = await tx.connection.findMany({ where: { ...where, status: { not: 'disconnected' } }, select: { id: true } });
        for (const { id } of targets) {
          const updated = await tx.connection.update({
            where: { id },
            data: {
              status: 'disconnected',
              accessTokenCiphertext: null,
              refreshTokenCiphertext: null,
              nextRefreshAt: null,
              leaseOwner: null,
              leaseExpiresAt: null,
              version: { increment: 1 },
            },
            include,
          });
          await writeConnectionEvent(tx, 'connection.deleted', updated);
        }
        return targets.map((t) => t.id);
      });
    },

    async findById(id: string, db: Sql = sql): Promise<ConnectionWithTenant | null> {
      const rows = await db.query<Row>(
        `SELECT c.*, t."externalId" AS "tenantExternalId"
           FROM "connections" c JOIN "tenants" t ON t."id" = c."tenantId"
          WHERE c."id" = $1`,
        [id],
      );
      return rows[0] ? toConnection(rows[0]) : null;
    },

    /** The columns a token read needs (TokenReadRow), by primary key. */
    async findForTokenRead(id: string): Promise<TokenReadRow | null> {
      const rows = await sql.query<TokenReadRow>(TOKEN_READ_SELECT, [id]);
      return rows[0] ?? null;
    },

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
      const rows = await sql.query<Row & { tookOver: boolean }>(
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
     * The refresh's fenced write (fencedUpdate's contract, for the columns a successful refresh sets), with
     * its outbox events, in one statement shared by concurrent calls (group commit, batcher.ts). Null when
     * someone else wrote first.
     */
    storeRotated(write: RotatedWrite): Promise<Connection | null> {
      return storeRotatedBatched(write);
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

/**
 * The connections' token ciphertexts, for `pnpm cli keys reencrypt`: rewritten only where the row still has
 * the version and the ciphertexts read (a refresh or reconnect that landed meanwhile wins), without bumping
 * the version - the tokens are the same, and a refresh holding the lease must keep its fenced write.
 */
export function connectionCiphertexts(database: Pick<Database, 'pool'>): CiphertextStore {
  return ciphertextTable(sqlOf(database.pool), {
    name: 'connections',
    table: 'connections',
    columns: { accessToken: 'accessTokenCiphertext', refreshToken: 'refreshTokenCiphertext' },
    fence: 'version',
  });
}
