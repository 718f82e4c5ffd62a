import { createApiKeyService } from '@lever-connect/connections';
import {
  createTestDatabase,
  deleteRedisPrefix,
  freePort,
  randomEncryptionKey,
  randomRedisPrefix,
  startApp,
  TEST_REDIS_URL,
  type ManagedProcess,
  type TestDatabase,
} from '@lever-connect/testing';

export interface Stack {
  db: TestDatabase;
  sim: ManagedProcess;
  api: ManagedProcess;
  apis: ManagedProcess[];
  workers: ManagedProcess[];
  env: Record<string, string>;
  adminKey: string;
  redisPrefix: string;
  startWorker(): Promise<ManagedProcess>;
  startApi(): Promise<ManagedProcess>;
  /** JSON from the simulator's control plane. */
  simStats(): Promise<Record<string, number>>;
  simPost(path: string, body?: unknown): Promise<unknown>;
  stop(): Promise<void>;
}

/**
 * Boots the whole product as real processes: the Lever simulator, the api and N workers, on free ports,
 * with a fresh database and a private Redis key prefix. Everything is removed by `stop()`.
 */
export async function startStack(options: {
  workers?: number;
  apis?: number;
  simEnv?: Record<string, string>;
  env?: Record<string, string>;
  /** A private Redis (tests that flush or restart it). */
  redisUrl?: string;
  /** A private Postgres cluster's admin URL (tests that stop it). */
  pgAdminUrl?: string;
} = {}): Promise<Stack> {
  const db = await createTestDatabase(options.pgAdminUrl);
  const redisPrefix = randomRedisPrefix();
  const simPort = await freePort();
  const sim = await startApp({
    name: 'lever-sim',
    entry: 'apps/lever-sim/src/server.ts',
    port: simPort,
    healthPath: '/__sim/stats',
    env: { SIM_AUTO_APPROVE: '1', LOG_LEVEL: 'warn', ...options.simEnv },
  });
  const apiPort = await freePort();
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    DATABASE_URL: db.url,
    REDIS_URL: options.redisUrl ?? TEST_REDIS_URL,
    REDIS_PREFIX: redisPrefix,
    TOKEN_ENCRYPTION_KEY: randomEncryptionKey(),
    LEVER_ENV: 'simulator',
    LEVER_SIMULATOR_URL: sim.url,
    PUBLIC_BASE_URL: `http://127.0.0.1:${apiPort}`,
    REFRESH_JITTER_SECONDS: '1',
    ...options.env,
  };
  const api = await startApp({ name: 'api', entry: 'apps/api/src/server.ts', port: apiPort, env });
  const apis = [api];
  // Extra api processes share PUBLIC_BASE_URL (the first one's): only the first serves the OAuth callback.
  const startApi = async () => {
    const extra = await startApp({ name: 'api', entry: 'apps/api/src/server.ts', port: await freePort(), env });
    apis.push(extra);
    return extra;
  };
  for (let i = 1; i < (options.apis ?? 1); i++) await startApi();
  const workers: ManagedProcess[] = [];
  const startWorker = async () => {
    const worker = await startApp({ name: 'worker', entry: 'apps/worker/src/server.ts', port: await freePort(), env });
    workers.push(worker);
    return worker;
  };
  for (let i = 0; i < (options.workers ?? 1); i++) await startWorker();
  const { key: adminKey } = await createApiKeyService({ prisma: db.db.prisma }).create({ name: 'e2e admin' });
  const simPost = async (path: string, body?: unknown) => {
    const res = await fetch(sim.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) });
    if (!res.ok) throw new Error(`sim ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  return {
    db,
    sim,
    api,
    apis,
    workers,
    startApi,
    simPost,
    async simStats() {
      return (await (await fetch(`${sim.url}/__sim/stats`)).json()) as Record<string, number>;
    },
    env,
    adminKey,
    redisPrefix,
    startWorker,
    async stop() {
      await Promise.all([...workers, ...apis].map((p) => p.stop()));
      await sim.stop();
      await db.drop().catch(() => undefined);
      if (!options.redisUrl) await deleteRedisPrefix(redisPrefix);
    },
  };
}
