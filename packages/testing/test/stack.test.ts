import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { sha256Hex } from '@lever-connect/crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { ADMIN_DATABASE_URL, startTestStack, TEST_REDIS_URL, type InProcessSim } from '../src/index.js';

async function databaseExists(name: string): Promise<boolean> {
  const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  try {
    return (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;
  } finally {
    await admin.end();
  }
}

async function keysUnder(prefix: string): Promise<string[]> {
  const redis = new Redis(TEST_REDIS_URL);
  try {
    return await redis.keys(`${prefix}:*`);
  } finally {
    redis.disconnect();
  }
}

/** A stand-in for an in-process simulator: answers every request with `{}` and records that it was closed. */
async function fakeSim(): Promise<InProcessSim & { isClosed: boolean }> {
  const server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const sim = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    isClosed: false,
    async close() {
      sim.isClosed = true;
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  return sim;
}

describe('the test stack', () => {
  it('boots a migrated database, a Redis prefix and the simulator as a child process, and stop() removes all three', async () => {
    const stack = await startTestStack({ env: { LEVER_HTTP_TIMEOUT_MS: '2000' } });
    try {
      expect(stack.env).toMatchObject({
        NODE_ENV: 'test',
        DATABASE_URL: stack.db.url,
        REDIS_URL: TEST_REDIS_URL,
        REDIS_PREFIX: stack.redisPrefix,
        LEVER_ENV: 'simulator',
        LEVER_SIMULATOR_URL: stack.sim.url,
        PUBLIC_BASE_URL: 'http://127.0.0.1:3999',
        LEVER_HTTP_TIMEOUT_MS: '2000',
      });
      expect(Buffer.from(stack.env.TOKEN_ENCRYPTION_KEY!, 'base64')).toHaveLength(32);
      expect(await stack.simStats()).toHaveProperty('tokenRequests', 0);
      expect(await stack.db.db.prisma.connection.count()).toBe(0);
      const redis = new Redis(TEST_REDIS_URL);
      await redis.set(`${stack.redisPrefix}:probe`, '1');
      await redis.set(`${stack.newRedisPrefix()}:probe`, '1');
      redis.disconnect();
    } finally {
      await stack.stop();
    }
    expect(await databaseExists(stack.db.name)).toBe(false);
    expect(await keysUnder(stack.redisPrefix)).toEqual([]);
    expect(stack.sim.child.exitCode !== null || stack.sim.child.signalCode !== null).toBe(true);
    await stack.stop();
  });

  it('creates an admin key the product recognises: stored as its SHA-256 with no tenant', async () => {
    const stack = await startTestStack({ sim: false });
    try {
      const key = await stack.createAdminKey('e2e admin');
      expect(key).toMatch(/^lc_[A-Za-z0-9_-]{43}$/);
      const row = await stack.db.db.prisma.apiKey.findUniqueOrThrow({ where: { hash: sha256Hex(key) } });
      expect(row).toMatchObject({ name: 'e2e admin', tenantId: null, revokedAt: null, prefix: key.slice(0, 9) });
    } finally {
      await stack.stop();
    }
  });

  it('runs an in-process simulator when given one, or none, and says so when asked for its stats', async () => {
    const sim = await fakeSim();
    const withSim = await startTestStack({ sim: async () => sim });
    expect(withSim.env.LEVER_SIMULATOR_URL).toBe(sim.url);
    await withSim.stop();
    expect(sim.isClosed).toBe(true);

    const without = await startTestStack({ sim: false });
    try {
      expect(without.sim).toBeUndefined();
      expect(without.env).not.toHaveProperty('LEVER_SIMULATOR_URL');
      await expect(without.simStats()).rejects.toThrow(/no simulator/);
    } finally {
      await without.stop();
    }
  });

  it('stops what it started when a process fails to come up, and throws that failure', async () => {
    const sim = await fakeSim();
    // A key of the wrong length: the api refuses to start and exits.
    const boot = startTestStack({ sim: async () => sim, apis: 1, env: { TOKEN_ENCRYPTION_KEY: 'too-short' } });
    await expect(boot).rejects.toThrow(/api exited early/);
    expect(sim.isClosed).toBe(true);
  });
});
