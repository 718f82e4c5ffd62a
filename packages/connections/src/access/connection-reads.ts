import type { PrismaClient } from '@lever-connect/db';
import type { ConnectionStatus, LeverEnvironment } from '@lever-connect/db';
import type { ConnectionRepo, ConnectionWithTenant } from '../store/connection-repo.js';
import type { TokenAudit, TokenRead } from '../tokens/token-audit.js';
import { searchConnectionIds } from './connection-search.js';
import { tenantLookupIds } from './tenant-names.js';
import { tenantFilter, visibleOr404, type Viewer } from './viewer.js';

/**
 * The list's keyset cursor: the sort key (createdAt, id) of the previous page's last row, as 6 bytes of
 * milliseconds and the id's 16 bytes, base64url (30 characters). The next page is the rows strictly after
 * that key, so a row that changed between pages (its status no longer matching a filter, say) cannot shift
 * the page the way an offset from the cursor row would. Any 30 such characters decode to a key Postgres
 * accepts, so the shape alone tells a malformed cursor from a valid one.
 */
export const CONNECTION_CURSOR_PATTERN = '^[A-Za-z0-9_-]{30}$';

export function encodeConnectionCursor(row: { createdAt: Date; id: string }): string {
  const key = Buffer.alloc(22);
  key.writeUIntBE(row.createdAt.getTime(), 0, 6);
  Buffer.from(row.id.replace(/-/g, ''), 'hex').copy(key, 6);
  return key.toString('base64url');
}

export function decodeConnectionCursor(cursor: string): { createdAt: Date; id: string } {
  const key = Buffer.from(cursor, 'base64url');
  const hex = key.subarray(6, 22).toString('hex');
  return {
    createdAt: new Date(key.readUIntBE(0, 6)),
    id: `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`,
  };
}

export interface ConnectionListQuery {
  /** The tenant's externalId. */
  tenant?: string | undefined;
  status?: ConnectionStatus | undefined;
  environment?: LeverEnvironment | undefined;
  /** Exactly this Lever account id. */
  leverAccountId?: string | undefined;
  /** A connection id (exact), or a prefix of the tenant's externalId or of the Lever account id. */
  q?: string | undefined;
  limit: number;
  cursor?: string | undefined;
}

const include = { tenant: { select: { externalId: true } } } as const;

/** Connections as API keys read them, behind the tenant wall (another tenant's connection is a plain 404). */
export function createConnectionReads(deps: {
  prisma: PrismaClient;
  repo: Pick<ConnectionRepo, 'findById'>;
  tokenAudit: Pick<TokenAudit, 'flush' | 'list'>;
}) {
  async function get(viewer: Viewer, id: string): Promise<ConnectionWithTenant> {
    return visibleOr404(viewer, await deps.repo.findById(id), 'Connection');
  }

  return {
    get,

    /** The audit trail of access tokens handed out for a connection the viewer sees (never the token). */
    async tokenReads(viewer: Viewer, id: string, page: { limit: number; cursor?: string | undefined }): Promise<{ data: TokenRead[]; nextCursor: string | null }> {
      const connection = await get(viewer, id);
      // Reads recorded moments ago may still be buffered in this process.
      await deps.tokenAudit.flush();
      return deps.tokenAudit.list(connection.id, page);
    },

    /** Newest first (createdAt desc, id desc), keyset-paged. */
    async list(viewer: Viewer, query: ConnectionListQuery): Promise<{ data: ConnectionWithTenant[]; nextCursor: string | null }> {
      const after = query.cursor ? decodeConnectionCursor(query.cursor) : null;
      const orderBy = [{ createdAt: 'desc' as const }, { id: 'desc' as const }];
      const rows = query.q
        ? await deps.prisma.connection.findMany({
            // The search finds the page's ids (connection-search.ts, the wall included); this reads their rows.
            where: { ...tenantFilter(viewer), id: { in: await searchConnectionIds(deps.prisma, viewer, { ...query, q: query.q, after, take: query.limit + 1 }) } },
            include,
            orderBy,
          })
        : await deps.prisma.connection.findMany({
            where: {
              ...tenantFilter(viewer),
              ...(query.tenant ? { tenant: { externalId: { in: tenantLookupIds(query.tenant, 'tenant') } } } : {}),
              ...(query.status ? { status: query.status } : {}),
              ...(query.environment ? { environment: query.environment } : {}),
              ...(query.leverAccountId ? { leverAccountId: query.leverAccountId } : {}),
              // Strictly after the previous page's last key, in the order below. The `lte` bound is implied by
              // the OR, but it is what lets Postgres start the index walk at the cursor, not at the newest row.
              ...(after
                ? { AND: [{ createdAt: { lte: after.createdAt } }, { OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }] }] }
                : {}),
            },
            include,
            orderBy,
            take: query.limit + 1,
          });
      const page = rows.slice(0, query.limit);
      return { data: page, nextCursor: rows.length > query.limit ? encodeConnectionCursor(page[page.length - 1]!) : null };
    },

    /** A tenant's newest connections for the demo table: token columns are never even read. */
    async summaries(tenantExternalId: string, limit: number) {
      return deps.prisma.connection.findMany({
        where: { tenant: { externalId: { in: tenantLookupIds(tenantExternalId, 'tenant') } } },
        select: {
          id: true,
          status: true,
          environment: true,
          leverAccountId: true,
          accessTokenExpiresAt: true,
          nextRefreshAt: true,
          lastRefreshedAt: true,
          reauthReason: true,
        },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: limit,
      });
    },
  };
}

export type ConnectionReads = ReturnType<typeof createConnectionReads>;
