import type { Connection, Db, PrismaClient } from '@lever-connect/db';

export type ConnectionWithTenant = Connection & { tenant: { externalId: string } };

const withTenant = { tenant: { select: { externalId: true } } } as const;

/** Data access for connections. Token columns are ciphertexts; decrypting is the caller's job. */
export function createConnectionRepo(prisma: PrismaClient) {
  return {
    async findById(id: string, db: Db = prisma): Promise<ConnectionWithTenant | null> {
      return db.connection.findUnique({ where: { id }, include: withTenant });
    },

    /**
     * Claims the refresh lease on the row (the second guard after the Redis lock). Succeeds only for the
     * version we read, while the connection is active and no unexpired lease is held. Uses the database's
     * clock so process clocks cannot disagree about expiry. Also records the attempt.
     */
    async claimLease(id: string, version: number, owner: string, ttlMs: number): Promise<{ lastAttemptAmbiguous: boolean } | null> {
      const rows = await prisma.$queryRaw<Array<{ lastAttemptAmbiguous: boolean }>>`
        UPDATE "connections"
           SET "leaseOwner" = ${owner},
               "leaseExpiresAt" = now() + make_interval(secs => ${ttlMs / 1000}::double precision),
               "lastRefreshAttemptAt" = now(),
               -- Taking over an expired lease means its holder died mid-refresh (SIGKILL, crash): Lever may
               -- have rotated the token we hold, so a later invalid_grant is our loss, not the customer's.
               "lastAttemptAmbiguous" = "lastAttemptAmbiguous" OR "leaseOwner" IS NOT NULL,
               "refreshTokenLastUsedAt" = now()
         WHERE "id" = ${id}::uuid
           AND "version" = ${version}
           AND "status" = 'active'
           AND ("leaseOwner" IS NULL OR "leaseExpiresAt" < now())
        RETURNING "lastAttemptAmbiguous"`;
      return rows[0] ?? null;
    },

    async releaseLease(id: string, owner: string): Promise<void> {
      await prisma.connection.updateMany({
        where: { id, leaseOwner: owner },
        data: { leaseOwner: null, leaseExpiresAt: null },
      });
    },

    /**
     * The fencing write: applies `data` only if the row still has `version`, and bumps it. Returns false
     * when someone else wrote first (a reconnect, another refresher), so a stale writer can never overwrite
     * newer tokens.
     */
    async fencedUpdate(
      db: Db,
      id: string,
      version: number,
      data: Parameters<PrismaClient['connection']['updateMany']>[0]['data'],
    ): Promise<boolean> {
      const { count } = await db.connection.updateMany({
        where: { id, version },
        data: { ...data, version: { increment: 1 } },
      });
      return count === 1;
    },
  };
}

export type ConnectionRepo = ReturnType<typeof createConnectionRepo>;
