import type { PrismaClient } from '@lever-connect/db';
import { writeConnectionEvent } from './events.js';

const include = { tenant: { select: { externalId: true } } } as const;

/**
 * Disconnects connections: wipes their tokens, stops refreshes (status leaves `active`, so jobs end and the
 * reconciler skips them), bumps the version so a refresh in flight loses its fenced write, and writes
 * `connection.deleted` in the same transaction. Already-disconnected connections are left alone.
 */
export async function disconnectConnections(prisma: PrismaClient, where: { id?: string; tenantId?: string }): Promise<string[]> {
  return prisma.$transaction(async (tx) => {
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
}
