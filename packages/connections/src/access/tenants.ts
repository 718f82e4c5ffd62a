import type { Db } from '@lever-connect/db';
import { isUniqueViolation } from '@lever-connect/db';
import { tenantExternalId, tenantName } from './tenant-names.js';

/**
 * The id a tenant named by `value` is stored under: its NFC form (tenant-names.ts, a 400 naming `field`
 * when refused), unless a tenant stored before ids were normalized has exactly the id sent — that one stays
 * the tenant (no NFC twin). Read-only: a caller can check it (a scoped key's tenant) before anything is written.
 */
export async function storedTenantExternalId(db: Db, value: string, field?: string): Promise<string> {
  const externalId = tenantExternalId(value, field);
  if (externalId !== value && (await db.tenant.findUnique({ where: { externalId: value }, select: { id: true } }))) return value;
  return externalId;
}

/**
 * Tenants are created on first use, keyed by the operator's own id. Every way a tenant id or name enters
 * (connect sessions, API keys, webhook endpoints, the CLI) comes through here, so none is stored without
 * the rules of tenant-names.ts: a 400 naming `fields` otherwise (the input's names, for the caller).
 */
export async function upsertTenant(
  db: Db,
  input: { externalId: string; name?: string | undefined },
  fields: { externalId?: string; name?: string } = {},
) {
  const externalId = await storedTenantExternalId(db, input.externalId, fields.externalId);
  const name = input.name === undefined ? undefined : tenantName(input.name, fields.name);
  try {
    return await db.tenant.upsert({
      where: { externalId },
      create: { externalId, name: name ?? null },
      update: name !== undefined ? { name } : {},
    });
  } catch (error) {
    // Two first uses at once: the loser reads the winner's row.
    if (isUniqueViolation(error)) return db.tenant.findUniqueOrThrow({ where: { externalId } });
    throw error;
  }
}
