/**
 * `pnpm cli api-key create --name NAME [--tenant EXTERNAL_ID] [--scopes a,b]` (prints the key as the last line of stdout),
 * `pnpm cli api-key list`, `pnpm cli api-key revoke ID`; `pnpm cli keys status`, `pnpm cli keys reencrypt`
 * (keys-command.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs, parseEnv } from 'node:util';
import { loadConfig, type RawEnv } from '@lever-connect/config';
import { createApiKeyService, createInvalidationBus } from '@lever-connect/connections';
import { createTokenCipher } from '@lever-connect/crypto';
import { createDatabase } from '@lever-connect/db';
import { createRedis } from '@lever-connect/runtime';
import pino from 'pino';
import { ciphertextStores, keysReencrypt, keysStatus } from './keys-command.js';

const USAGE = `usage:
  pnpm cli api-key create --name NAME [--tenant EXTERNAL_ID] [--scopes tokens:read,connections:read,...]
  pnpm cli api-key list
  pnpm cli api-key revoke ID
  pnpm cli keys status
  pnpm cli keys reencrypt [--batch-size N]`;

/** The same settings `pnpm dev` uses: the .env it writes (when present), under the shell's own variables. */
function settings(): RawEnv {
  const fromFile = existsSync('.env') ? parseEnv(readFileSync('.env', 'utf8')) : {};
  const fromShell = Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== undefined && v !== ''));
  return { ...fromFile, ...fromShell };
}

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { name: { type: 'string' }, tenant: { type: 'string' }, scopes: { type: 'string' }, 'batch-size': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  const [resource, action, id] = positionals;
  if (values.help || !action || (resource !== 'api-key' && resource !== 'keys')) {
    console.error(USAGE);
    return values.help ? 0 : 2;
  }
  if (resource === 'keys') return keys(action, values['batch-size']);
  // api-key needs only the database and Redis; the token key and Lever settings are not used by it.
  const config = loadConfig({ ...settings(), TOKEN_ENCRYPTION_KEY: Buffer.alloc(32).toString('base64') });
  const database = createDatabase({ url: config.databaseUrl, poolSize: 1 });
  const redis = createRedis(config.redisUrl, 'command');
  // A revocation is announced to every running api process (they drop the key from their caches at once);
  // without Redis they still stop accepting it within the cache TTL (10 s).
  const bus = createInvalidationBus({ publisher: redis, subscriber: () => redis, prefix: config.redisPrefix, log: pino({ level: 'silent' }) });
  const publishOnly = { publish: bus.publish.bind(bus), subscribe() {} };
  const apiKeys = createApiKeyService({ prisma: database.prisma, bus: publishOnly });
  try {
    switch (action) {
      case 'create': {
        if (!values.name) {
          console.error('--name is required\n' + USAGE);
          return 2;
        }
        const scopes = values.scopes?.split(',').map((s) => s.trim()).filter(Boolean);
        const { key, apiKey } = await apiKeys.create({ name: values.name, tenantExternalId: values.tenant, scopes });
        console.log(`created API key ${apiKey.id} (${apiKey.prefix}…)${apiKey.tenantExternalId ? ` for tenant ${apiKey.tenantExternalId}` : ''}, scopes ${apiKey.scopes.join(',')}`);
        console.log('store it now, it is not shown again:');
        console.log(key);
        return 0;
      }
      case 'list': {
        for (const k of await apiKeys.list()) {
          console.log(
            [k.id, k.prefix + '…', k.name, k.tenantExternalId ?? '(all tenants)', k.scopes.join(','), k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : 'active'].join('\t'),
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
    redis.disconnect();
    await database.close();
  }
}

/** `keys status | reencrypt`, with the deployment's own key ring (TOKEN_ENCRYPTION_KEY, _PREVIOUS_KEYS, _ACCEPT_LEGACY). */
async function keys(action: string, batchSizeOption: string | undefined): Promise<number> {
  const batchSize = Number(batchSizeOption ?? 500);
  if ((action !== 'status' && action !== 'reencrypt') || !Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
    console.error(USAGE);
    return 2;
  }
  const config = loadConfig(settings());
  const database = createDatabase({ url: config.databaseUrl, poolSize: 1 });
  const redis = createRedis(config.redisUrl, 'command');
  const deps = {
    cipher: createTokenCipher(config.tokenEncryption),
    stores: ciphertextStores({ database, redis, redisPrefix: config.redisPrefix }),
    out: (line: string) => console.log(line),
    err: (line: string) => console.error(line),
  };
  try {
    return action === 'status' ? await keysStatus(deps) : await keysReencrypt(deps, { batchSize });
  } finally {
    redis.disconnect();
    await database.close();
  }
}

process.exitCode = await main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  return 1;
});
