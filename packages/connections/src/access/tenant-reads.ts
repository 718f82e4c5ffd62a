import type { PrismaClient, Tenant } from '@lever-connect/db';
import type { ConnectionWithTenant } from '../store/connection-repo.js';
import { encodeConnectionCursor } from './connection-reads.js';
import { tenantLookupIds } from './tenant-names.js';
import { visibleOr404, type Viewer } from './viewer.js';

/** The most connections one read of a tenant answers with (GET /v1/tenants/:externalId); the rest are paged. */
export const TENANT_CONNECTIONS_LIMIT = 100;

/** Tenants as API keys read them, behind the tenant wall (a scoped key sees only its own; others are 404). */
export function createTenantReads(deps: { prisma: PrismaClient }) {
  async function get(viewer: Viewer, externalId: string): Promise<Tenant> {
    const ids = tenantLookupIds(externalId);
    const rows = await deps.prisma.tenant.findMany({ where: { externalId: { in: ids } } });
    // The id as sent first: a tenant stored in another form before ids were normalized is its own tenant.
    const tenant = rows.find((t) => t.externalId === externalId) ?? rows[0] ?? null;
    return visibleOr404(viewer, tenant && { ...tenant, tenantId: tenant.id }, 'Tenant');
  }

  return {
    get,

    /** By externalId, keyset-paged (the cursor is the previous page's last externalId). */
    async list(viewer: Viewer, query: { limit: number; cursor?: string | undefined }): Promise<{ data: Tenant[]; nextCursor: string | null }> {
      const rows = await deps.prisma.tenant.findMany({
        where: { ...(viewer.tenantId ? { id: viewer.tenantId } : {}), ...(query.cursor ? { externalId: { gt: query.cursor } } : {}) },
        orderBy: { externalId: 'asc' },
        take: query.limit + 1,
      });
      const page = rows.slice(0, query.limit);
      return { data: page, nextCursor: rows.length > query.limit ? page[page.length - 1]!.externalId : null };
    },

    /**
     * One tenant with its newest connections, at most `limit`; `nextCursor` continues the list with
     * `ConnectionReads.list({ tenant, cursor })` (the same order, createdAt desc then id desc).
     */
    async withConnections(
      viewer: Viewer,
      externalId: string,
      limit = TENANT_CONNECTIONS_LIMIT,
    ): Promise<{ tenant: Tenant; connections: ConnectionWithTenant[]; nextCursor: string | null }> {
      const tenant = await get(viewer, externalId);
      const rows = await deps.prisma.connection.findMany({
        where: { tenantId: tenant.id },
        include: { tenant: { select: { externalId: true } } },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: limit + 1,
      });
      const connections = rows.slice(0, limit);
      return { tenant, connections, nextCursor: rows.length > limit ? encodeConnectionCursor(connections[connections.length - 1]!) : null };
    },

    /** The ids of every active connection of a tenant (an action on all of them must not stop at a page). */
    async activeConnectionIds(tenant: Pick<Tenant, 'id'>): Promise<string[]> {
      const rows = await deps.prisma.connection.findMany({ where: { tenantId: tenant.id, status: 'active' }, select: { id: true } });
      return rows.map((r) => r.id);
    },
  };
}

export type TenantReads = ReturnType<typeof createTenantReads>;
