import type { Db } from '@lever-connect/db';
import { isUniqueViolation } from '@lever-connect/db';

/** Tenants are created on first use, keyed by the operator's own id. */
export async function upsertTenant(db: Db, tenant: { externalId: string; name?: string | undefined }) {
  try {
    return await db.tenant.upsert({
      where: { externalId: tenant.externalId },
      create: { externalId: tenant.externalId, name: tenant.name ?? null },
      update: tenant.name !== undefined ? { name: tenant.name } : {},
    });
  } catch (error) {
    // Two first uses at once: the loser reads the winner's row.
    if (isUniqueViolation(error)) return db.tenant.findUniqueOrThrow({ where: { externalId: tenant.externalId } });
    throw error;
  }
}
