import type { Event, PrismaClient } from '@lever-connect/db';
import type { EventType } from '@lever-connect/runtime';
import { tenantFilter, type Viewer } from './viewer.js';

/** Domain events as API keys read them, newest first, behind the tenant wall (a scoped key sees its tenant's only). */
export function createEventReads(deps: { prisma: PrismaClient }) {
  return {
    /** Keyset-paged on the outbox sequence (the cursor is the previous page's last `seq`). */
    async list(
      viewer: Viewer,
      query: { type?: EventType | undefined; connectionId?: string | undefined; limit: number; cursor?: string | undefined },
    ): Promise<{ data: Event[]; nextCursor: string | null }> {
      const rows = await deps.prisma.event.findMany({
        where: {
          ...tenantFilter(viewer),
          ...(query.type ? { type: query.type } : {}),
          ...(query.connectionId ? { connectionId: query.connectionId } : {}),
          ...(query.cursor ? { seq: { lt: BigInt(query.cursor) } } : {}),
        },
        orderBy: { seq: 'desc' },
        take: query.limit + 1,
      });
      const page = rows.slice(0, query.limit);
      return { data: page, nextCursor: rows.length > query.limit ? page[page.length - 1]!.seq.toString() : null };
    },
  };
}

export type EventReads = ReturnType<typeof createEventReads>;
