// Prisma CLI configuration: offline-safe (JS schema engine + pg driver adapter, no engine download).
// See ../../shared/notes/prisma.md for why each line is here.
process.env.PRISMA_QUERY_ENGINE_LIBRARY ??= process.execPath;
process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= process.execPath;
process.env.CHECKPOINT_DISABLE ??= '1';
process.env.DATABASE_URL ??= 'postgresql://postgres@127.0.0.1:5432/lever_connect';

// The wasm engine arms long timers it never clears; unref them so CLI commands exit when done.
const originalSetTimeout = globalThis.setTimeout;
globalThis.setTimeout = ((fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
  const timer = originalSetTimeout(fn, ms, ...args);
  if ((ms ?? 0) >= 10_000) timer.unref();
  return timer;
}) as typeof setTimeout;

import path from 'node:path';
import { PrismaPg } from '@prisma/adapter-pg';
import type { PrismaConfig } from 'prisma';

/** Discrete pg settings: a connectionString would override the shadow database name (prisma.md). */
function pgConfigFromUrl(raw: string) {
  const url = new URL(raw);
  return {
    host: decodeURIComponent(url.hostname),
    port: url.port ? Number(url.port) : 5432,
    user: decodeURIComponent(url.username) || 'postgres',
    password: url.password ? decodeURIComponent(url.password) : undefined,
    database: decodeURIComponent(url.pathname.replace(/^\//, '')) || 'postgres',
    allowExitOnIdle: true,
  };
}

export default {
  experimental: { adapter: true },
  engine: 'js',
  schema: path.join(import.meta.dirname, 'schema.prisma'),
  migrations: { path: path.join(import.meta.dirname, 'migrations') },
  async adapter() {
    return new PrismaPg(pgConfigFromUrl(process.env.DATABASE_URL!));
  },
} satisfies PrismaConfig;
