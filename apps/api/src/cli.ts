/**
 * `pnpm cli api-key create --name NAME [--tenant EXTERNAL_ID]` (prints the key as the last line of stdout),
 * `pnpm cli api-key list`, `pnpm cli api-key revoke ID`.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '@lever-connect/config';
import { createApiKeyService } from '@lever-connect/connections';
import { createDatabase } from '@lever-connect/db';

const USAGE = `usage:
  pnpm cli api-key create --name NAME [--tenant EXTERNAL_ID]
  pnpm cli api-key list
  pnpm cli api-key revoke ID`;

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { name: { type: 'string' }, tenant: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  const [resource, action, id] = positionals;
  if (values.help || resource !== 'api-key' || !action) {
    console.error(USAGE);
    return values.help ? 0 : 2;
  }
  // The CLI needs only the database; the token key and Lever settings are not required for it.
  const config = loadConfig({ TOKEN_ENCRYPTION_KEY: Buffer.alloc(32).toString('base64'), ...process.env });
  const database = createDatabase({ url: config.databaseUrl, poolSize: 1 });
  const apiKeys = createApiKeyService({ prisma: database.prisma });
  try {
    switch (action) {
      case 'create': {
        if (!values.name) {
          console.error('--name is required\n' + USAGE);
          return 2;
        }
        const { key, apiKey } = await apiKeys.create({ name: values.name, tenantExternalId: values.tenant });
        console.log(`created API key ${apiKey.id} (${apiKey.prefix}…)${apiKey.tenantExternalId ? ` for tenant ${apiKey.tenantExternalId}` : ' (admin)'}`);
        console.log('store it now, it is not shown again:');
        console.log(key);
        return 0;
      }
      case 'list': {
        for (const k of await apiKeys.list()) {
          console.log(
            [k.id, k.prefix + '…', k.name, k.tenantExternalId ?? '(admin)', k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : 'active'].join('\t'),
          );
        }
        return 0;
      }
      case 'revoke': {
        if (!id) {
          console.error('revoke needs the key id\n' + USAGE);
          return 2;
        }
        await apiKeys.revoke(id);
        console.log(`revoked ${id}`);
        return 0;
      }
      default:
        console.error(USAGE);
        return 2;
    }
  } finally {
    await database.close();
  }
}

process.exitCode = await main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  return 1;
});
