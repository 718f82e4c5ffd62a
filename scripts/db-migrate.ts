// `pnpm db:migrate`: create the database named in DATABASE_URL if it does not exist, then apply the
// committed migrations. Prisma's `migrate deploy` does not create a missing database (prisma.md).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDatabase } from './lib/ensure-database.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
if (!process.env.DATABASE_URL) {
  try {
    process.loadEnvFile(path.join(root, '.env'));
  } catch {
    // no .env: the default below applies
  }
}
const databaseUrl = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/lever_connect';

await ensureDatabase(databaseUrl);
execFileSync(
  path.join(root, 'node_modules/.bin/prisma'),
  ['migrate', 'deploy', '--config', path.join(root, 'prisma/prisma.config.ts')],
  { stdio: 'inherit', env: { ...process.env, DATABASE_URL: databaseUrl } },
);
