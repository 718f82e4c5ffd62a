import { randomUUID } from 'node:crypto';
import type { Database } from '@lever-connect/db';

/**
 * Inserts an active production connection whose access token has an hour left (nothing is due), holding
 * the token ciphertexts `tokens` makes for its id. Returns the id.
 */
export async function insertConnectionRow(
  database: Pick<Database, 'prisma'>,
  tenantId: string,
  tokens: (id: string) => { accessTokenCiphertext: string | null; refreshTokenCiphertext: string | null },
): Promise<string> {
  const id = randomUUID();
  const now = Date.now();
  await database.prisma.connection.create({
    data: {
      id,
      tenantId,
      environment: 'production',
      leverAccountId: `acct_${id.slice(0, 8)}`,
      accessTokenExpiresAt: new Date(now + 3600_000),
      refreshTokenIssuedAt: new Date(now),
      nextRefreshAt: new Date(now + 3000_000),
      ...tokens(id),
    },
  });
  return id;
}
