// The operating contract (README, issue 3): deployment scripts call these commands by name and read their
// output, so they are tested as a script would run them — `pnpm <script>` in a child process, with an
// explicit environment, against real Postgres.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_DATABASE_URL, createTestDatabase, dropDatabase, randomEncryptionKey, ROOT, type TestDatabase } from '@lever-connect/testing';
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
    env = { NODE_ENV: 'test', DATABASE_URL: database.url, TOKEN_ENCRYPTION_KEY: randomEncryptionKey() };
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

  it('runs with a copied .env.example as its environment (plus the key `pnpm dev` writes)', async () => {
    const example = readFileSync(path.join(ROOT, '.env.example'), 'utf8');
    const copied = parseEnv(setIfUnset(example, 'TOKEN_ENCRYPTION_KEY', randomEncryptionKey()).content);
    const fromExample = Object.fromEntries(Object.entries(copied).filter((e): e is [string, string] => e[1] !== undefined));

    const result = await pnpm(['cli', 'api-key', 'list'], { ...fromExample, DATABASE_URL: database.url });

    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(created.admin!.id);
  });
});
