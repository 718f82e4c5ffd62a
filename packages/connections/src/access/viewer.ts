import { NotFoundError } from '@lever-connect/errors';

/**
 * Who is reading: an API key's principal, narrowed to what the tenant wall needs. A tenant-scoped key
 * (`tenantId` set) sees only its own tenant's rows; an unscoped key (`tenantId` null) sees every tenant.
 * DESIGN.md invariant 6: the wall lives here and in the read services of this folder, never in a route.
 */
export interface Viewer {
  tenantId: string | null;
  /** The API key reading (its per-key quotas), when a key is. */
  apiKeyId?: string | null;
}

/** A viewer that sees every tenant (an admin key; the simulator-only demo). */
export const EVERY_TENANT: Viewer = Object.freeze({ tenantId: null });

/** Whether `viewer` may see a row of `tenantId`. */
export function sees(viewer: Viewer, tenantId: string | null): boolean {
  return viewer.tenantId === null || viewer.tenantId === tenantId;
}

/**
 * The row, if the viewer may see it; otherwise the same 404 as a row that does not exist, so a scoped key
 * cannot tell another tenant's ids from made-up ones.
 */
export function visibleOr404<T extends { tenantId: string | null }>(viewer: Viewer, row: T | null | undefined, resource: string): T {
  if (!row || !sees(viewer, row.tenantId)) throw new NotFoundError(resource);
  return row;
}

/** A Prisma `where` fragment limiting rows to what the viewer sees. */
export function tenantFilter(viewer: Viewer): { tenantId?: string } {
  return viewer.tenantId === null ? {} : { tenantId: viewer.tenantId };
}
