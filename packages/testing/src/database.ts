import { randomBytes } from 'node:crypto';
import { applyMigrations, createDatabase, type Database } from '@lever-connect/db';
import pg from 'pg';

export const ADMIN_DATABASE_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  url: string;
  name: string;
  db: Database;
  /** Drops the database (forcing other sessions off). */
  drop(): Promise<void>;
}

/** Creates a fresh database with the committed migrations applied; one per test file keeps files isolated. */
export async function createTestDatabase(adminUrl = ADMIN_DATABASE_URL): Promise<TestDatabase> {
  const name = `lc_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await applyMigrations(client);
  } finally {
    await client.end();
  }
  const db = createDatabase({ url: url.toString(), poolSize: 5 });
  return {
    url: url.toString(),
    name,
    db,
    async drop() {
      await db.close();
      await dropDatabase(name, adminUrl);
    },
  };
}

export async function dropDatabase(name: string, adminUrl = ADMIN_DATABASE_URL): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}
