import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';

/** The committed migrations at the repository's top level (prisma/migrations). */
export const migrationsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../prisma/migrations');

/**
 * Applies the committed migration scripts in order with a plain pg client. Used by tests to build a fresh
 * database per file in milliseconds; deployments use `pnpm db:migrate` (Prisma's `migrate deploy`).
 */
export async function applyMigrations(client: pg.Client | pg.Pool): Promise<void> {
  const entries = (await readdir(migrationsDir, { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  for (const name of entries) {
    await client.query(await readFile(path.join(migrationsDir, name, 'migration.sql'), 'utf8'));
  }
}
