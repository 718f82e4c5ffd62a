import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Config } from '@lever-connect/config';
import { createTokenCipher } from '@lever-connect/crypto';
import { createDatabase } from '@lever-connect/db';
import { refreshAccessToken } from '@lever-connect/lever';
import { Queue } from 'bullmq';
import type { Logger } from 'pino';
import { createApiKeyService } from './api-keys.js';
import { createAppCredentialsState } from './app-credentials.js';
import { createInvalidationBus } from './invalidation.js';
import { createLeverRateLimiter } from './lever-rate-limit.js';
import { disconnectConnections } from './lifecycle.js';
import { createConnectService } from './connect.js';
import { createConnectionRepo } from './connection-repo.js';
import { createDeploymentFence } from './fence.js';
import { createMetrics } from './metrics.js';
import { observeRefresh } from './refresh-metrics.js';
import { createConnectionLocks } from './locks.js';
import { QUEUE_NAMES, type SweepJobData } from './queues.js';
import { createRedis } from './redis.js';
import { createRefresher, refreshLeaseTtlMs } from './refresh.js';
import { createRefreshSweep } from './refresh-sweep.js';
import { createRefreshScheduler } from './scheduler.js';
import { createResponseStash } from './stash.js';
import { createTokenAudit } from './token-audit.js';
import { createTokenService } from './token-service.js';

/**
 * Builds the domain services shared by the api and the worker from one validated config. Each app's
 * container adds what only it needs (HTTP plugins, BullMQ workers).
 */
export function createCore(config: Readonly<Config>, log: Logger, options: { processName?: 'api' | 'worker' } = {}) {
  const metrics = createMetrics(options.processName ?? 'api');
  const database = createDatabase({
    url: config.databaseUrl,
    poolSize: config.databasePoolSize,
    onPoolError: (err) => log.error({ err }, 'postgres idle client error'),
  });
  const prisma = database.prisma;
  const redisError = (err: Error) => log.warn({ err: { message: err.message } }, 'redis connection error');
  const redis = createRedis(config.redisUrl, 'command', redisError);
  const queueRedis = createRedis(config.redisUrl, 'bullmq', redisError);
  const cipher = createTokenCipher(config.tokenEncryption);
  const prefix = config.redisPrefix;
  const ownerId = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;

  const repo = createConnectionRepo(database);
  const bus = createInvalidationBus({ publisher: redis, subscriber: () => createRedis(config.redisUrl, 'bullmq', redisError), prefix, log });
  const connectionChanged = (id: string) => bus.publish('connection', id);
  const refreshQueue = new Queue<SweepJobData>(QUEUE_NAMES.refresh, { connection: queueRedis, prefix });
  refreshQueue.on('error', redisError);
  // Handles on every queue, for depth gauges and the dashboard (the workers own their jobs).
  const watchedQueues = [refreshQueue, ...[QUEUE_NAMES.maintenance, QUEUE_NAMES.webhooks].map((name) => {
    const queue = new Queue(name, { connection: queueRedis, prefix });
    queue.on('error', redisError);
    return queue;
  })] as const;
  const scheduler = createRefreshScheduler({ queue: refreshQueue, database, repo, log });
  const locks = createConnectionLocks({
    redis: [redis],
    prefix,
    // Longer than one Lever request by default (DESIGN.md); also extended while the holder works.
    ttlMs: config.refresh.lockTtlMs,
    onExtendFailed: (connectionId) => log.warn({ connectionId }, 'lock extension failed'),
  });
  const stash = createResponseStash({ redis, prefix, cipher });
  const fence = createDeploymentFence(prisma, config.deploymentId);
  const refresher = createRefresher({
    database,
    repo,
    cipher,
    locks,
    stash,
    fence,
    rateLimiter: createLeverRateLimiter({ redis, prefix, perSecond: config.refresh.rateLimitPerSecond }),
    appCredentials: createAppCredentialsState(database),
    onChanged: connectionChanged,
    config,
    ownerId,
    log,
    callLever: (env, refreshToken) => refreshAccessToken(env, refreshToken, { timeoutMs: config.lever.httpTimeoutMs }),
    observe: (result, trigger, durationMs) => observeRefresh(metrics, result, trigger, durationMs),
    observeLockWait: (outcome, ms) => metrics.lockWait.observe({ outcome }, ms / 1000),
    // A failed wake-up is the refresher's to log (scheduleNext): the database already holds next_refresh_at,
    // and the next sweep or the reconciler arms it later.
    onScheduled: (connection) => scheduler.schedule(connection),
  });
  const sweep = createRefreshSweep({
    repo,
    refresher,
    ownerId,
    leaseTtlMs: refreshLeaseTtlMs(config),
    concurrency: config.refresh.concurrency,
    log,
    observeLag: (lateMs) => metrics.scheduleLag.observe(Math.max(0, lateMs) / 1000),
  });

  const tokenAudit = createTokenAudit({ database, log });

  return {
    config,
    metrics,
    tokenAudit,
    log,
    database,
    prisma,
    redis,
    queueRedis,
    cipher,
    repo,
    refreshQueue,
    watchedQueues,
    scheduler,
    sweep,
    locks,
    stash,
    fence,
    refresher,
    ownerId,
    bus,
    tokens: createTokenService({ repo, refresher, cipher, config, bus }),
    connect: createConnectService({ prisma, redis, prefix, cipher, config, onConnectionChanged: connectionChanged }),
    apiKeys: createApiKeyService({ prisma, bus }),
    /** Disconnects connections (DELETE routes): tokens wiped, refreshes stopped, every cache told. */
    async disconnect(where: { id?: string; tenantId?: string }): Promise<number> {
      const ids = await disconnectConnections(prisma, where);
      await Promise.all(ids.map(connectionChanged));
      return ids.length;
    },
    async close() {
      await tokenAudit.flush();
      refresher.stop();
      await refresher.drain();
      await Promise.all(watchedQueues.map((q) => q.close().catch(() => undefined)));
      await bus.close();
      redis.disconnect();
      queueRedis.disconnect();
      await database.close();
    },
  };
}

export type Core = ReturnType<typeof createCore>;
