import type { ConnectionStatus, LeverEnvironment, PrismaClient } from '@lever-connect/db';
import { ts } from '@lever-connect/db';
import { tenantLookupIds } from './tenant-names.js';
import type { Viewer } from './viewer.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface ConnectionSearch {
  /** A connection id (exact), or the start of the tenant's externalId or of the Lever account id. */
  q: string;
  tenant?: string | undefined;
  status?: ConnectionStatus | undefined;
  environment?: LeverEnvironment | undefined;
  leverAccountId?: string | undefined;
  /** Rows strictly after this key, in list order (createdAt desc, id desc). */
  after?: { createdAt: Date; id: string } | null;
  /** How many ids at most (a page and one more). */
  take: number;
}

/** `q` as a LIKE prefix: its own % _ and \ escaped, so they match themselves. */
export const likePrefix = (q: string) => `${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/**
 * The ids of a search page, in list order, behind the tenant wall (the viewer's tenant is a condition of every
 * branch). One branch per way to match — the Lever account id prefix, the tenant externalId prefix, the
 * exact id — each ordered and limited on its own and merged: Postgres plans each branch for its own
 * selectivity (a rare prefix reads its text_pattern_ops index and sorts a few rows; a common one walks the
 * list's index and stops after a page), where one OR over all three would read the whole list's index
 * whenever the matches are rare (~50 ms at 100,000 rows, growing with the table).
 */
export async function searchConnectionIds(prisma: Pick<PrismaClient, '$queryRawUnsafe'>, viewer: Viewer, search: ConnectionSearch): Promise<string[]> {
  const params: unknown[] = [];
  const param = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  const conditions: string[] = [];
  if (viewer.tenantId !== null) conditions.push(`c."tenantId" = ${param(viewer.tenantId)}::uuid`);
  // The id as sent and its NFC form (tenant-names.ts: a tenant stored before normalization keeps its exact id).
  if (search.tenant) conditions.push(`c."tenantId" IN (SELECT t."id" FROM "tenants" t WHERE t."externalId" = ANY(${param(tenantLookupIds(search.tenant, 'tenant'))}::text[]))`);
  if (search.status) conditions.push(`c."status" = ${param(search.status)}::"ConnectionStatus"`);
  if (search.environment) conditions.push(`c."environment" = ${param(search.environment)}::"LeverEnvironment"`);
  if (search.leverAccountId) conditions.push(`c."leverAccountId" = ${param(search.leverAccountId)}`);
  if (search.after) conditions.push(`(c."createdAt", c."id") < (${param(ts(search.after.createdAt))}::timestamp, ${param(search.after.id)}::uuid)`);
  const and = conditions.map((c) => ` AND ${c}`).join('');
  const prefix = param(likePrefix(search.q));
  const take = param(search.take);
  const page = `ORDER BY c."createdAt" DESC, c."id" DESC LIMIT ${take}`;
  const branches = [
    `(SELECT c."id", c."createdAt" FROM "connections" c WHERE c."leverAccountId" LIKE ${prefix}${and} ${page})`,
    `(SELECT c."id", c."createdAt" FROM "connections" c WHERE c."tenantId" IN (SELECT t."id" FROM "tenants" t WHERE t."externalId" LIKE ${prefix})${and} ${page})`,
  ];
  if (UUID.test(search.q)) branches.push(`(SELECT c."id", c."createdAt" FROM "connections" c WHERE c."id" = ${param(search.q.toLowerCase())}::uuid${and})`);
  const rows = await prisma.$queryRawUnsafe<Array<{ id: string }>>(
    `SELECT u."id" FROM (${branches.join(' UNION ')}) u ORDER BY u."createdAt" DESC, u."id" DESC LIMIT ${take}`,
    ...params,
  );
  return rows.map((r) => r.id);
}
