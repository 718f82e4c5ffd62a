import type { Db } from '@lever-connect/db';
import { isUniqueViolation } from '@lever-connect/db';
import { tenantExternalId, tenantName } from './tenant-names.js';

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
  let externalId = tenantExternalId(input.externalId, fields.externalId);
  const name = input.name === undefined ? undefined : tenantName(input.name, fields.name);
  // A tenant stored before ids were normalized, under exactly the id sent, stays that tenant (no split in two).
  if (externalId !== input.externalId && (await db.tenant.findUnique({ where: { externalId: input.externalId }, select: { id: true } }))) {
    externalId = input.externalId;
  }
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
