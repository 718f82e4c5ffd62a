import { randomBytes, randomUUID } from 'node:crypto';
import { loadConfig } from '@lever-connect/config';
import { createCore, writeConnectionEvent, type Core } from '@lever-connect/connections';
import { startTestStack, type TestDatabase } from '@lever-connect/testing';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { buildApp } from '../src/app.js';

export interface TestApp {
  app: FastifyInstance;
  /** The Lever simulator (a child process), when asked for. */
  sim: { url: string } | undefined;
  core: Core;
  db: TestDatabase;
  adminKey: string;
  /** A key scoped to tenant `tenant-a`. */
  tenantKey: string;
  close(): Promise<void>;
}

/**
 * The api in-process (app.inject or a real port) over a fresh database and a private Redis prefix
 * (startTestStack). `sim`: the Lever simulator as a child process (LEVER_SIMULATOR_URL set), its consent
 * page on unless `simEnv` says otherwise. `logTo`: where the api and the core log their JSON lines, at info
 * and above, for a test that reads the logs (default: silent, or TEST_LOG_LEVEL to stdout).
 */
export async function buildTestApp(
  env: Record<string, string> = {},
  options: { sim?: boolean; simEnv?: Record<string, string>; logTo?: { write(line: string): void } } = {},
): Promise<TestApp> {
  const stack = options.sim
    ? await startTestStack({ sim: 'process', simEnv: { SIM_AUTO_APPROVE: '0', ...options.simEnv }, env: { CONNECT_ALLOWED_ORIGINS: 'https://app.example.com', ...env } })
    : await startTestStack({ sim: false, env: { CONNECT_ALLOWED_ORIGINS: 'https://app.example.com', ...env } });
  const logger = options.logTo ? pino({ level: 'info' }, options.logTo) : pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const core = createCore(loadConfig(stack.env), logger);
  const app = await buildApp({ core, logger });
  await app.ready();
  const { key: adminKey } = await core.apiKeys.create({ name: 'admin' });
  const { key: tenantKey } = await core.apiKeys.create({ name: 'tenant a', tenantExternalId: 'tenant-a' });
  return {
    app,
    sim: stack.sim ? { url: stack.sim.url } : undefined,
    core,
    db: stack.db,
    adminKey,
    tenantKey,
    async close() {
      await app.close();
      await core.close();
      await stack.stop();
    },
  };
}

/** The environment of a production deployment against live Lever (credentials made up: nothing calls Lever). */
export const PRODUCTION_ENV = {
  NODE_ENV: 'production',
  LEVER_ENV: 'live',
  // The test stack switches it on for its http receivers; a production deployment never has it.
  ALLOW_INSECURE_DEV: 'false',
  LEVER_PRODUCTION_CLIENT_ID: 'client',
  LEVER_PRODUCTION_CLIENT_SECRET: 'secret',
  PUBLIC_BASE_URL: 'https://connect.example.com',
} as const;

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/** A connection row with real (encrypted) tokens that do not need a refresh for an hour. */
export async function insertConnection(t: TestApp, tenantExternalId: string) {
  const prisma = t.db.db.prisma;
  const tenant = await prisma.tenant.upsert({ where: { externalId: tenantExternalId }, create: { externalId: tenantExternalId }, update: {} });
  const id = randomUUID();
  const accessToken = `at_${randomBytes(16).toString('hex')}`;
  const now = new Date();
  const connection = await prisma.connection.create({
    data: {
      id,
      tenantId: tenant.id,
      environment: 'sandbox',
      leverAccountId: `acct_${tenantExternalId}`,
      scopes: ['offline_access'],
      accessTokenCiphertext: t.core.cipher.encrypt(accessToken, { row: id, column: 'accessToken' }),
      refreshTokenCiphertext: t.core.cipher.encrypt(`rt_${randomBytes(16).toString('hex')}`, { row: id, column: 'refreshToken' }),
      accessTokenExpiresAt: new Date(now.getTime() + 3600_000),
      refreshTokenIssuedAt: now,
      grantCreatedAt: now,
    },
    include: { tenant: { select: { externalId: true } } },
  });
  await writeConnectionEvent(prisma, 'connection.created', connection);
  return { tenant, connection, accessToken };
}
