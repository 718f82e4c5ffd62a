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
import { toConnection, TOKEN_READ_SELECT, type ConnectionRow, type ConnectionWithTenant, type TokenReadRow } from './connection-rows.js';
import { leaseStatements } from './lease-statements.js';

export type { ConnectionWithTenant, TokenReadRow } from './connection-rows.js';

/** Columns a fenced write may set (never the identity, the version it bumps itself, or the timestamps). */
export type ConnectionColumns = Partial<Omit<Connection, 'id' | 'tenantId' | 'version' | 'createdAt' | 'updatedAt'>>;

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
    ...leaseStatements(sql),

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
      const rows = await db.query<ConnectionRow>(
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
