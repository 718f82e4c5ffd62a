import type { PrismaClient, Tenant } from '@lever-connect/db';
import type { ConnectionWithTenant } from '../store/connection-repo.js';
import { tenantLookupIds } from './tenant-names.js';
import { visibleOr404, type Viewer } from './viewer.js';

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

    /** One tenant with its connections, newest first. */
    async withConnections(viewer: Viewer, externalId: string): Promise<{ tenant: Tenant; connections: ConnectionWithTenant[] }> {
      const tenant = await get(viewer, externalId);
      const connections = await deps.prisma.connection.findMany({
        where: { tenantId: tenant.id },
        include: { tenant: { select: { externalId: true } } },
        orderBy: { createdAt: 'desc' },
      });
      return { tenant, connections };
    },
  };
}

export type TenantReads = ReturnType<typeof createTenantReads>;
