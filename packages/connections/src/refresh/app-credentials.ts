import type { LeverEnvironment } from '@lever-connect/config';
import { insertEvents, inTransaction, SQL_NOW, sqlOf, type Database } from '@lever-connect/db';

const STATE_CACHE_MS = 30_000;

export interface AppCredentialsState {
  /** Lever refused our client credentials: records it and writes `oauth_app.invalid_credentials` once per episode. */
  rejected(environment: LeverEnvironment, clientId: string): Promise<void>;
  /** A call with these credentials worked: ends the episode (if one is open), so a later rejection is news again. */
  accepted(environment: LeverEnvironment): Promise<void>;
}

/**
 * Whether Lever rejects our OAuth app's credentials, per environment, in Postgres (lever_app_states). A wrong
 * client secret fails every refresh of every connection of that environment; the operator must hear it once,
 * loudly, and no customer may be blamed for it. Postgres, not Redis, holds the episode so that the event is
 * written in the same transaction as the state change and neither a Redis flush nor a failed insert can
 * repeat or swallow it.
 */
export function createAppCredentialsState(database: Pick<Database, 'pool'>): AppCredentialsState {
  const sql = sqlOf(database.pool);
  // What this process last saw of each environment's state, so a success costs no write when all is well.
  const known = new Map<LeverEnvironment, { rejected: boolean; at: number }>();
  // Concurrent refreshes that find the cache stale share one write (a burst would send one per refresh).
  const accepting = new Map<LeverEnvironment, Promise<void>>();

  return {
    async rejected(environment, clientId) {
      await inTransaction(database.pool, async (tx) => {
        const opened = await tx.query(
          `INSERT INTO "lever_app_states" ("environment", "credentialsRejectedSince", "updatedAt")
           VALUES ($1, ${SQL_NOW}, ${SQL_NOW})
           ON CONFLICT ("environment") DO UPDATE
              SET "credentialsRejectedSince" = ${SQL_NOW}, "updatedAt" = ${SQL_NOW}
            WHERE "lever_app_states"."credentialsRejectedSince" IS NULL
           RETURNING "environment"`,
          [environment],
        );
        if (opened.length > 0) {
          await insertEvents(tx, [{ type: 'oauth_app.invalid_credentials', data: { environment, clientId } }]);
        }
      });
      known.set(environment, { rejected: true, at: Date.now() });
    },
    async accepted(environment) {
      const seen = known.get(environment);
      if (seen && !seen.rejected && Date.now() - seen.at < STATE_CACHE_MS) return;
      let write = accepting.get(environment);
      if (!write) {
        write = (async () => {
          await sql.query(
            `UPDATE "lever_app_states" SET "credentialsRejectedSince" = NULL, "updatedAt" = ${SQL_NOW}
              WHERE "environment" = $1 AND "credentialsRejectedSince" IS NOT NULL`,
            [environment],
          );
          known.set(environment, { rejected: false, at: Date.now() });
        })().finally(() => accepting.delete(environment));
        accepting.set(environment, write);
      }
      await write;
    },
  };
}
