import { loadConfig } from '@lever-connect/config';
import { createCore, type Core } from '@lever-connect/connections';
import { freePort, randomEncryptionKey, randomRedisPrefix, TEST_REDIS_URL } from '@lever-connect/testing';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { bearer } from './helpers.js';

// Postgres unreachable (a port nothing listens on): every route that needs it answers 503 with a code and
// Retry-After — an outage to wait out, never a 500 — and the process stays up.
describe('api with Postgres unreachable', () => {
  let app: FastifyInstance;
  let core: Core;
  beforeAll(async () => {
    const port = await freePort();
    const config = loadConfig({
      NODE_ENV: 'test',
      LEVER_ENV: 'simulator',
      DATABASE_URL: `postgresql://postgres@127.0.0.1:${port}/lever_connect_absent`,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_PREFIX: randomRedisPrefix(),
      TOKEN_ENCRYPTION_KEY: randomEncryptionKey(),
      PUBLIC_BASE_URL: 'http://127.0.0.1:3999',
    });
    const logger = pino({ level: 'silent' });
    core = createCore(config, logger);
    app = await buildApp({ core, logger });
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await core?.close();
  });

  it.each([
    ['GET', '/v1/connections'],
    ['GET', '/v1/connections/00000000-0000-4000-8000-000000000000/access-token'],
    ['POST', '/v1/connect-sessions'],
  ] as const)('answers %s %s with 503 database_unavailable and Retry-After', async (method, url) => {
    const res = await app.inject({
      method,
      url,
      headers: bearer('lc_' + 'a'.repeat(43)),
      ...(method === 'POST' ? { payload: { tenant: { externalId: 'acme' } } } : {}),
    });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('2');
    expect(res.json()).toMatchObject({ error: { code: 'database_unavailable' }, requestId: expect.any(String) });
    expect(res.body).not.toMatch(/127\.0\.0\.1|prisma|stack/i);
  });

  it('reports postgres down on /readyz and stays up on /healthz', async () => {
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toEqual({ status: 'unavailable', postgres: 'down', redis: 'ok' });
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });
});
