import type { Connection } from '@lever-connect/db';

/** Shapes of a connection row as the hot-path statements read it (connection-repo.ts, lease-statements.ts). */

export type ConnectionWithTenant = Connection & { tenant: { externalId: string } };

/**
 * What a token read needs of a row (the token endpoint, the proxy's token): no refresh token, no schedule,
 * no lease. The token endpoint is the hottest path, and with the cache off or missed, parsing the whole row
 * (33 columns, a join, and the Dates and arrays they become) was a tenth of its CPU (bench 3's profile).
 */
export type TokenReadRow = Pick<
  Connection,
  'id' | 'tenantId' | 'environment' | 'status' | 'reauthReason' | 'leverAccountId' | 'scopes' | 'accessTokenCiphertext' | 'accessTokenExpiresAt' | 'refreshTokenIssuedAt' | 'version'
>;
const TOKEN_READ_COLUMNS: ReadonlyArray<keyof TokenReadRow> = [
  'id',
  'tenantId',
  'environment',
  'status',
  'reauthReason',
  'leverAccountId',
  'scopes',
  'accessTokenCiphertext',
  'accessTokenExpiresAt',
  'refreshTokenIssuedAt',
  'version',
];
export const TOKEN_READ_SELECT = `SELECT ${TOKEN_READ_COLUMNS.map((c) => `"${c}"`).join(', ')} FROM "connections" WHERE "id" = $1`;

export type ConnectionRow = Connection & { tenantExternalId: string };

/** A row read with its tenant's external id (`t."externalId" AS "tenantExternalId"`), as the services use it. */
export const toConnection = ({ tenantExternalId, ...row }: ConnectionRow): ConnectionWithTenant => ({ ...row, tenant: { externalId: tenantExternalId } });

