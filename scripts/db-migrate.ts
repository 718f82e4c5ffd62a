// `pnpm db:migrate`: create the database named in DATABASE_URL if it does not exist, then apply the
// committed migrations. Prisma's `migrate deploy` does not create a missing database (prisma.md).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDatabase } from './lib/ensure-database.ts';
import { isSet, mergeEnvFile } from './lib/env-file.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const envFile = path.join(root, '.env');
// An explicit DATABASE_URL (deployments, tests) wins; otherwise .env's, otherwise the default.
if (!isSet(process.env.DATABASE_URL) && existsSync(envFile)) mergeEnvFile(process.env, readFileSync(envFile, 'utf8'));
const databaseUrl = isSet(process.env.DATABASE_URL) ? process.env.DATABASE_URL : 'postgresql://postgres@127.0.0.1:5432/lever_connect';

await ensureDatabase(databaseUrl);
execFileSync(
  path.join(root, 'node_modules/.bin/prisma'),
  ['migrate', 'deploy', '--config', path.join(root, 'prisma/prisma.config.ts')],
  { stdio: 'inherit', env: { ...process.env, DATABASE_URL: databaseUrl } },
);
