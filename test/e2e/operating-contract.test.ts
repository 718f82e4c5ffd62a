// The operating contract (README, issue 3): deployment scripts call these commands by name and read their
// output, so they are tested as a script would run them — `pnpm <script>` in a child process, with an
// explicit environment, against real Postgres.
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_DATABASE_URL,
  APP_ENTRIES,
  createTestDatabase,
  deleteRedisPrefix,
  dropDatabase,
  freePort,
  insertConnectionRow,
  legacyCiphertext,
  randomEncryptionKey,
  randomRedisPrefix,
  ROOT,
  startApp,
  TEST_REDIS_URL,
  type TestDatabase,
} from '@lever-connect/testing';
import { createTokenCipher, keyId, type CiphertextBinding } from '../../packages/crypto/src/index.js';
import { setIfUnset } from '../../scripts/lib/env-file.ts';

const COMMAND_TIMEOUT_MS = 30_000;
const API_KEY = /^lc_[A-Za-z0-9_-]{43}$/;

interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `pnpm <args>` at the repository root with exactly `env` (plus PATH and HOME). The child leads its
 * own process group, so a timeout kills pnpm and the tsx/prisma processes under it together.
 */
async function pnpm(args: string[], env: Record<string, string>): Promise<CommandResult> {
  const child = spawn('pnpm', args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    process.kill(-child.pid!, 'SIGKILL');
  }, COMMAND_TIMEOUT_MS);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  }).finally(() => clearTimeout(timer));
  if (timedOut) throw new Error(`pnpm ${args.join(' ')} did not finish within ${COMMAND_TIMEOUT_MS} ms\n${stdout}\n${stderr}`);
  return { code, stdout, stderr };
}

function lastLine(output: string): string {
  return output.trimEnd().split('\n').at(-1) ?? '';
}

function databaseUrl(name: string): string {
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

describe('pnpm db:migrate', () => {
  const name = `lc_test_migrate_${randomBytes(4).toString('hex')}`;
  const url = databaseUrl(name);
  const committed = readdirSync(path.join(ROOT, 'prisma/migrations'), { withFileTypes: true }).filter((e) => e.isDirectory()).length;

  afterAll(async () => {
    await dropDatabase(name);
  });

  async function appliedMigrations() {
    return await query<{ migration_name: string; finished_at: Date | null }>(
      url,
      'SELECT migration_name, finished_at FROM _prisma_migrations ORDER BY migration_name',
    );
  }

  it('creates the database DATABASE_URL names when it does not exist, and applies every committed migration', async () => {
    expect(await query(ADMIN_DATABASE_URL, 'SELECT 1 FROM pg_database WHERE datname = $1', [name])).toHaveLength(0);

    const result = await pnpm(['db:migrate'], { DATABASE_URL: url });

    expect(result.code, result.stdout + result.stderr).toBe(0);
    const [tables] = await query<{ apiKeys: string | null; connections: string | null }>(
      url,
      `SELECT to_regclass('public.api_keys')::text AS "apiKeys", to_regclass('public.connections')::text AS connections`,
    );
    expect(tables).toEqual({ apiKeys: 'api_keys', connections: 'connections' });
    const applied = await appliedMigrations();
    expect(applied).toHaveLength(committed);
    expect(applied.every((m) => m.finished_at !== null)).toBe(true);
  });

  it('changes nothing when run again', async () => {
    const before = await appliedMigrations();

    const result = await pnpm(['db:migrate'], { DATABASE_URL: url });

    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(await appliedMigrations()).toEqual(before);
  });
});

describe('pnpm cli api-key', () => {
  let database: TestDatabase;
  let env: Record<string, string>;

  beforeAll(async () => {
    database = await createTestDatabase();
    env = { NODE_ENV: 'test', LEVER_ENV: 'simulator', DATABASE_URL: database.url, TOKEN_ENCRYPTION_KEY: randomEncryptionKey() };
  });
  afterAll(async () => {
    await database?.drop();
  });

  async function apiKeyRow(name: string) {
    const rows = await query<{ id: string; prefix: string; hash: string; revokedAt: Date | null; tenant: string | null }>(
      database.url,
      `SELECT k.id, k.prefix, k.hash, k."revokedAt", t."externalId" AS tenant
         FROM api_keys k LEFT JOIN tenants t ON t.id = k."tenantId" WHERE k.name = $1`,
      [name],
    );
    expect(rows).toHaveLength(1);
    return rows[0]!;
  }

  const created: Record<string, { key: string; id: string }> = {};

  it('create --name prints an admin key as the last line of stdout, and stores only its hash', async () => {
    const result = await pnpm(['cli', 'api-key', 'create', '--name', 'ops-admin'], env);

    expect(result.code, result.stderr).toBe(0);
    const key = lastLine(result.stdout);
    expect(key).toMatch(API_KEY);
    const row = await apiKeyRow('ops-admin');
    expect(row.tenant).toBeNull();
    expect(row.revokedAt).toBeNull();
    expect(JSON.stringify(row)).not.toContain(key);
    expect(key.startsWith(row.prefix)).toBe(true);
    created.admin = { key, id: row.id };
  });

  it('create --tenant prints a key scoped to that tenant as the last line of stdout', async () => {
    const result = await pnpm(['cli', 'api-key', 'create', '--name', 'acme-only', '--tenant', 'acme-ops'], env);

    expect(result.code, result.stderr).toBe(0);
    const key = lastLine(result.stdout);
    expect(key).toMatch(API_KEY);
    expect(key).not.toBe(created.admin?.key);
    const row = await apiKeyRow('acme-only');
    expect(row.tenant).toBe('acme-ops');
    created.tenant = { key, id: row.id };
  });

  it('list shows every key by id and name, never its secret', async () => {
    const result = await pnpm(['cli', 'api-key', 'list'], env);

    expect(result.code, result.stderr).toBe(0);
    for (const [name, { id, key }] of [['ops-admin', created.admin!], ['acme-only', created.tenant!]] as const) {
      const line = result.stdout.split('\n').find((l) => l.startsWith(id));
      expect(line, `a line for ${name}`).toContain(name);
      expect(line).toContain('active');
      expect(result.stdout).not.toContain(key);
    }
  });

  it('revoke ID sets the key revoked in Postgres and leaves the others active', async () => {
    const result = await pnpm(['cli', 'api-key', 'revoke', created.tenant!.id], env);

    expect(result.code, result.stderr).toBe(0);
    expect((await apiKeyRow('acme-only')).revokedAt).toBeInstanceOf(Date);
    expect((await apiKeyRow('ops-admin')).revokedAt).toBeNull();
    const list = await pnpm(['cli', 'api-key', 'list'], env);
    expect(list.stdout.split('\n').find((l) => l.startsWith(created.tenant!.id))).toContain('revoked');
  });

  it('runs with a copied .env.example as its environment (plus the key and LEVER_ENV=simulator `pnpm dev` writes)', async () => {
    const example = readFileSync(path.join(ROOT, '.env.example'), 'utf8');
    const withKey = setIfUnset(example, 'TOKEN_ENCRYPTION_KEY', randomEncryptionKey()).content;
    const copied = parseEnv(setIfUnset(withKey, 'LEVER_ENV', 'simulator').content);
    const fromExample = Object.fromEntries(Object.entries(copied).filter((e): e is [string, string] => e[1] !== undefined));

    const result = await pnpm(['cli', 'api-key', 'list'], { ...fromExample, DATABASE_URL: database.url });

    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(created.admin!.id);
  });
});

/**
 * The upgrade of an existing deployment (docs/operating.md, "Key rotation"): its rows hold v1 ciphertexts
 * (bound to the row only) under an old key; the new key is deployed with the old one as a previous key;
 * `keys reencrypt` moves everything; the old key is then removed, and every secret still decrypts.
 */
describe('pnpm cli keys', () => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  const lostKey = randomBytes(32);
  const redisPrefix = randomRedisPrefix();
  let database: TestDatabase;
  let redis: Redis;
  let rotating: Record<string, string>;
  /** Every secret written, by where it is stored (`<row>:<column>`). */
  const secrets = new Map<string, { binding: CiphertextBinding; plaintext: string }>();
  const ids = { connections: [] as string[], current: '', endpoint: '', subscription: '', stash: '' };

  /** A v1 ciphertext of a fresh secret under `key`, as the cipher wrote it before column binding. */
  function legacySecret(binding: CiphertextBinding, associatedData = binding.row, key = oldKey): string {
    const plaintext = `${binding.column}_${randomBytes(12).toString('hex')}`;
    secrets.set(`${binding.row}:${binding.column}`, { binding, plaintext });
    return legacyCiphertext(key, plaintext, associatedData);
  }

  const insertConnection = (tenantId: string, tokens: Parameters<typeof insertConnectionRow>[2]) => insertConnectionRow(database.db, tenantId, tokens);

  /** Every ciphertext stored now, in the database and the Redis stash, by where it is stored. */
  async function stored(): Promise<Map<string, string>> {
    const all = new Map<string, string>();
    const put = (row: string, column: string, value: string | null) => value !== null && all.set(`${row}:${column}`, value);
    for (const c of await database.db.prisma.connection.findMany()) {
      put(c.id, 'accessToken', c.accessTokenCiphertext);
      put(c.id, 'refreshToken', c.refreshTokenCiphertext);
    }
    for (const e of await database.db.prisma.webhookEndpoint.findMany()) {
      put(e.id, 'secret', e.secretCiphertext);
      put(e.id, 'previousSecret', e.previousSecretCiphertext);
    }
    for (const l of await database.db.prisma.leverWebhookSubscription.findMany()) put(l.id, 'signatureToken', l.signatureTokenCiphertext);
    put(ids.stash, 'pendingTokens', await redis.get(ids.stash));
    return all;
  }
  const versions = async () => (await database.db.prisma.connection.findMany({ orderBy: { id: 'asc' } })).map((c) => [c.id, c.version]);
  /** The summary's last line (pnpm adds its own line after a failed script). */
  const staleLine = (output: string) => output.split('\n').findLast((line) => line.startsWith('stale: '));
  const expectNoSecretIn = (output: string) => {
    for (const { plaintext } of secrets.values()) expect(output).not.toContain(plaintext);
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    redis = new Redis(TEST_REDIS_URL);
    rotating = {
      NODE_ENV: 'test',
      LEVER_ENV: 'simulator',
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_PREFIX: redisPrefix,
      TOKEN_ENCRYPTION_KEY: newKey.toString('base64'),
      TOKEN_ENCRYPTION_PREVIOUS_KEYS: oldKey.toString('base64'),
    };
    const { prisma } = database.db;
    const tenant = await prisma.tenant.create({ data: { externalId: 'keys-acme' } });
    for (let i = 0; i < 5; i++) {
      ids.connections.push(
        await insertConnection(tenant.id, (id) => ({
          accessTokenCiphertext: legacySecret({ row: id, column: 'accessToken' }),
          refreshTokenCiphertext: legacySecret({ row: id, column: 'refreshToken' }),
        })),
      );
    }
    // One row a refresh already rewrote under the new key, and one disconnected (no tokens).
    const newCipher = createTokenCipher({ currentKey: newKey });
    ids.current = await insertConnection(tenant.id, (id) => ({
      accessTokenCiphertext: newCipher.encrypt('at_current', { row: id, column: 'accessToken' }),
      refreshTokenCiphertext: newCipher.encrypt('rt_current', { row: id, column: 'refreshToken' }),
    }));
    await insertConnection(tenant.id, () => ({ accessTokenCiphertext: null, refreshTokenCiphertext: null }));
    ids.endpoint = randomUUID();
    await prisma.webhookEndpoint.create({
      data: {
        id: ids.endpoint,
        url: 'https://hooks.example.com/lever-connect',
        eventTypes: [],
        secretCiphertext: legacySecret({ row: ids.endpoint, column: 'secret' }),
        previousSecretCiphertext: legacySecret({ row: ids.endpoint, column: 'previousSecret' }),
        previousSecretExpiresAt: new Date(Date.now() + 86_400_000),
      },
    });
    ids.subscription = randomUUID();
    await prisma.leverWebhookSubscription.create({
      data: {
        id: ids.subscription,
        connectionId: ids.connections[0]!,
        event: 'candidateStageChange',
        state: 'active',
        leverWebhookId: 'wh_1',
        signatureTokenCiphertext: legacySecret({ row: ids.subscription, column: 'signatureToken' }, `${ids.subscription}:signatureToken`),
      },
    });
    // A refresh's answer stashed while Postgres was away: the only live copy of that grant.
    ids.stash = `${redisPrefix}:stash:${ids.connections[1]}:v0`;
    const stashed = legacySecret({ row: ids.connections[1]!, column: 'pendingTokens' }, `stash:${ids.connections[1]}`);
    await redis.set(ids.stash, stashed, 'EX', 3600);
  });
  afterAll(async () => {
    redis?.disconnect();
    await deleteRedisPrefix(redisPrefix);
    await database?.drop();
  });

  it('status counts the ciphertexts per column, format and key, and says the old key is still in use', async () => {
    const result = await pnpm(['cli', 'keys', 'status'], rotating);

    expect(result.code, result.stderr).toBe(0);
    const legacy = secrets.size;
    expect(result.stdout).toContain(`connections\taccessToken\tv1\t${keyId(oldKey)}\t5`);
    expect(result.stdout).toContain(`refresh stash (Redis)\tpendingTokens\tv1\t${keyId(oldKey)}\t1`);
    expect(result.stdout).toContain(`key ${keyId(oldKey)} (previous): ${legacy} ciphertexts; keep it`);
    expect(result.stdout).toContain(`v1: ${legacy} ciphertexts; keep TOKEN_ENCRYPTION_ACCEPT_LEGACY=true`);
    expect(staleLine(result.stdout)).toBe(`stale: ${legacy}`);
    expectNoSecretIn(result.stdout + result.stderr);
  });

  it('reencrypt moves every ciphertext to the newest key, bound to its row and column, and bumps no version', async () => {
    const before = await stored();
    const versionsBefore = await versions();
    const stashTtl = await redis.ttl(ids.stash);

    const result = await pnpm(['cli', 'keys', 'reencrypt', '--batch-size', '2'], rotating);

    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('connections: re-encrypted 10, failed 0');
    expect(result.stdout).toContain('webhook endpoints: re-encrypted 2, failed 0');
    expect(result.stdout).toContain('lever webhook subscriptions: re-encrypted 1, failed 0');
    expect(result.stdout).toContain('refresh stash (Redis): re-encrypted 1, failed 0');
    expect(result.stdout).toContain(`key ${keyId(oldKey)} (previous): 0 ciphertexts; safe to remove from TOKEN_ENCRYPTION_PREVIOUS_KEYS`);
    expect(staleLine(result.stdout)).toBe('stale: 0');
    expectNoSecretIn(result.stdout + result.stderr);
    const after = await stored();
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [where, ciphertext] of after) expect(ciphertext.startsWith(`v2.${keyId(newKey)}.`), where).toBe(true);
    // The row a refresh had already rewritten is left alone; no version moved (a refresh in flight keeps its fence).
    expect(after.get(`${ids.current}:accessToken`)).toBe(before.get(`${ids.current}:accessToken`));
    expect(await versions()).toEqual(versionsBefore);
    const ttl = await redis.ttl(ids.stash);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(stashTtl);
  });

  it('leaves every secret readable with the old key removed and v1 refused, by the product itself', async () => {
    const newOnly = { ...rotating, TOKEN_ENCRYPTION_PREVIOUS_KEYS: '', TOKEN_ENCRYPTION_ACCEPT_LEGACY: 'false' };
    const cipher = createTokenCipher({ currentKey: newKey, acceptLegacy: false });
    const after = await stored();
    const withStash = [...secrets.values()].map(({ binding, plaintext }) => ({
      binding,
      plaintext,
      where: binding.column === 'pendingTokens' ? `${ids.stash}:pendingTokens` : `${binding.row}:${binding.column}`,
    }));
    for (const { binding, plaintext, where } of withStash) expect(cipher.decrypt(after.get(where)!, binding), where).toBe(plaintext);

    const status = await pnpm(['cli', 'keys', 'status'], newOnly);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain('v1: none; TOKEN_ENCRYPTION_ACCEPT_LEGACY=false is safe');
    expect(staleLine(status.stdout)).toBe('stale: 0');

    // An api process configured with the new key only hands out a token that was v1 under the old key.
    const apiKey = lastLine((await pnpm(['cli', 'api-key', 'create', '--name', 'keys-test'], newOnly)).stdout);
    const api = await startApp({ name: 'api-keys', entry: APP_ENTRIES.api, port: await freePort(), env: { ...newOnly, LEVER_ENV: 'simulator', LOG_LEVEL: 'warn' } });
    try {
      const res = await fetch(`${api.url}/v1/connections/${ids.connections[2]}/access-token`, { headers: { authorization: `Bearer ${apiKey}` } });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { accessToken: string }).accessToken).toBe(secrets.get(`${ids.connections[2]}:accessToken`)!.plaintext);
    } finally {
      await api.stop();
    }
  });

  it('reencrypt run again changes nothing', async () => {
    const before = await stored();

    const result = await pnpm(['cli', 'keys', 'reencrypt'], rotating);

    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.match(/: re-encrypted 0, failed 0/g)).toHaveLength(4);
    expect(await stored()).toEqual(before);
  });

  it('reencrypt exits non-zero and names what does not decrypt, after moving everything else', async () => {
    const { prisma } = database.db;
    const tenant = await prisma.tenant.findUniqueOrThrow({ where: { externalId: 'keys-acme' } });
    const lost = await insertConnection(tenant.id, (id) => ({
      accessTokenCiphertext: legacySecret({ row: id, column: 'accessToken' }, id, lostKey),
      refreshTokenCiphertext: legacySecret({ row: id, column: 'refreshToken' }, id, lostKey),
    }));
    const movable = await insertConnection(tenant.id, (id) => ({
      accessTokenCiphertext: legacySecret({ row: id, column: 'accessToken' }),
      refreshTokenCiphertext: legacySecret({ row: id, column: 'refreshToken' }),
    }));

    const result = await pnpm(['cli', 'keys', 'reencrypt'], rotating);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`connections: row ${lost} accessToken did not decrypt (unknown_key)`);
    expect(result.stderr).toContain(`connections: row ${lost} refreshToken did not decrypt (unknown_key)`);
    expect(result.stdout).toContain('connections: re-encrypted 2, failed 2');
    expect(result.stdout).toContain(`key ${keyId(lostKey)} (not configured): 2 ciphertexts no configured key can decrypt`);
    expect(staleLine(result.stdout)).toBe('stale: 2');
    expectNoSecretIn(result.stdout + result.stderr);
    expect((await stored()).get(`${movable}:refreshToken`)!.startsWith(`v2.${keyId(newKey)}.`)).toBe(true);
  });

  it('covers every encrypted column of the schema', async () => {
    const columns = await query<{ column: string }>(
      database.url,
      `SELECT table_name || '.' || column_name AS column FROM information_schema.columns
        WHERE table_schema = 'public' AND column_name ILIKE '%ciphertext%' ORDER BY 1`,
    );
    // A new one must be added to ciphertextStores (apps/api/src/keys-command.ts) and to this list.
    expect(columns.map((c) => c.column)).toEqual([
      'connections.accessTokenCiphertext',
      'connections.refreshTokenCiphertext',
      'lever_webhook_subscriptions.signatureTokenCiphertext',
      'webhook_endpoints.previousSecretCiphertext',
      'webhook_endpoints.secretCiphertext',
    ]);
  });
});
