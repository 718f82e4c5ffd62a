import { loadConfig } from '@lever-connect/config';
import { createCore, type Core } from '@lever-connect/connections';
import {
  createTestDatabase,
  deleteRedisPrefix,
  randomEncryptionKey,
  randomRedisPrefix,
  TEST_REDIS_URL,
  type TestDatabase,
} from '@lever-connect/testing';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { buildApp } from '../src/app.js';

export interface TestApp {
  app: FastifyInstance;
  core: Core;
  db: TestDatabase;
  adminKey: string;
  /** A key scoped to tenant `tenant-a`. */
  tenantKey: string;
  close(): Promise<void>;
}

/** The api in-process (app.inject or a real port) over a fresh database and a private Redis prefix. */
export async function buildTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const db = await createTestDatabase();
  const redisPrefix = randomRedisPrefix();
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: db.url,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_PREFIX: redisPrefix,
    TOKEN_ENCRYPTION_KEY: randomEncryptionKey(),
    PUBLIC_BASE_URL: 'http://127.0.0.1:3999',
    CONNECT_ALLOWED_ORIGINS: 'https://app.example.com',
    ...env,
  });
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const core = createCore(config, logger);
  const app = await buildApp({ core, logger });
  await app.ready();
  const { key: adminKey } = await core.apiKeys.create({ name: 'admin' });
  const { key: tenantKey } = await core.apiKeys.create({ name: 'tenant a', tenantExternalId: 'tenant-a' });
  return {
    app,
    core,
    db,
    adminKey,
    tenantKey,
    async close() {
      await app.close();
      await core.close();
      await db.drop();
      await deleteRedisPrefix(redisPrefix);
    },
  };
}

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
