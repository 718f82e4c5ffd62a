import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Config } from '@lever-connect/config';
import { createTokenCipher } from '@lever-connect/crypto';
import { createDatabase, sqlOf } from '@lever-connect/db';
import { refreshAccessToken, sendToLeverApi } from '@lever-connect/lever';
import { createMetrics, createRedis, QUEUE_NAMES, type LeverWebhooksJobData, type SweepJobData } from '@lever-connect/runtime';
import { Queue } from 'bullmq';
import type { Logger } from 'pino';
import { createApiKeyService } from './access/api-keys.js';
import { createConnectionActions } from './access/connection-actions.js';
import { createConnectionReads } from './access/connection-reads.js';
import { createEventReads } from './access/event-reads.js';
import { createOverviewReads } from './access/overview.js';
import { createQuotas } from './access/quotas.js';
import { createTenantReads } from './access/tenant-reads.js';
import { upsertTenant } from './access/tenants.js';
import { createConnectService } from './connect/service.js';
import { createLeverWebhooks } from './lever-webhooks/service.js';
import { createAccountBudget } from './proxy/budget.js';
import { createHourlyCounter } from './proxy/hourly-counter.js';
import { createLeverProxy } from './proxy/proxy.js';
import { createAppCredentialsState } from './refresh/app-credentials.js';
import { refreshLeaseTtlMs } from './refresh/context.js';
import { createDeploymentFence } from './refresh/fence.js';
import { createLeverRateLimiter } from './refresh/lever-budget.js';
import { createConnectionLocks } from './refresh/locks.js';
import { observeRefresh } from './refresh/observe.js';
import { createRefresher } from './refresh/refresh.js';
import { createRefreshScheduler } from './refresh/scheduler.js';
import { createResponseStash } from './refresh/stash.js';
import { createRefreshSweep } from './refresh/sweep.js';
import { createConnectionRepo } from './store/connection-repo.js';
import { createGrantRevoker, leverRevoker } from './tokens/grant-revocation.js';
import { createInvalidationBus } from './tokens/invalidation.js';
import { createTokenAudit } from './tokens/token-audit.js';
import { createTokenService } from './tokens/token-service.js';

/**
 * The composition root of the domain, shared by the api and the worker: one validated config in, every
 * service out. Each app's container adds what only it needs (HTTP plugins, BullMQ workers, webhooks).
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
  const leverWebhooksQueue = new Queue<LeverWebhooksJobData>(QUEUE_NAMES.leverWebhooks, { connection: queueRedis, prefix });
  leverWebhooksQueue.on('error', redisError);
  // Handles on every queue, for depth gauges and the dashboard (the workers own their jobs).
  const watchedQueues = [
    refreshQueue,
    leverWebhooksQueue,
    ...[QUEUE_NAMES.maintenance, QUEUE_NAMES.webhooks].map((name) => {
      const queue = new Queue(name, { connection: queueRedis, prefix });
      queue.on('error', redisError);
      return queue;
    }),
  ] as const;
  const scheduler = createRefreshScheduler({ queue: refreshQueue, repo, log });
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
    scheduler,
    ownerId,
    leaseTtlMs: refreshLeaseTtlMs(config),
    concurrency: config.refresh.concurrency,
    log,
    observeLag: (lateMs) => metrics.scheduleLag.observe(Math.max(0, lateMs) / 1000),
    observe: (result, trigger, durationMs) => observeRefresh(metrics, result, trigger, durationMs),
  });

  const tokenAudit = createTokenAudit({ database, log });
  const quotas = createQuotas({ redis, prefix, config: config.quotas });
  const tokens = createTokenService({ repo, refresher, cipher, config, bus, quotas });
  const connections = createConnectionReads({ prisma, repo, tokenAudit });
  const tenants = createTenantReads({ prisma });
  // Lever's 429s met by the proxy, per hour across every process (the console's overview; Prometheus has its own).
  const leverRateLimited = createHourlyCounter({ redis, key: `${prefix}:stats:lever-429` });
  const proxy = createLeverProxy({
    tokens,
    budget: createAccountBudget({ redis, prefix }),
    quotas,
    config,
    send: sendToLeverApi,
    observeAttempt: (environment, outcome) => {
      if (outcome.kind === 'response' && outcome.status === 429) {
        metrics.leverRateLimited.inc({ environment });
        leverRateLimited.increment();
      }
    },
  });
  const leverWebhooks = createLeverWebhooks({
    database,
    cipher,
    repo,
    reads: connections,
    proxy,
    queue: leverWebhooksQueue,
    publicBaseUrl: config.publicBaseUrl,
    bus,
    log,
    onRejected: (reason) => metrics.leverWebhooksRejected.inc({ reason }),
  });

  // Ends grants at Lever on disconnect and when we refuse a completed authorization (best effort, bounded).
  const revoker = createGrantRevoker({
    revoke: leverRevoker(config),
    log,
    observe: (trigger, result) => metrics.grantRevocations.inc({ trigger, result }),
  });

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
    tokens,
    connections,
    tenants,
    events: createEventReads({ prisma }),
    leverWebhooks,
    leverWebhooksQueue,
    quotas,
    overview: createOverviewReads({
      prisma,
      sql: sqlOf(database.pool),
      leverRateLimited,
      expiringNoticeDays: config.refresh.expiringNoticeDays,
    }),
    actions: createConnectionActions({ reads: connections, tenants, repo, tokens, leverWebhooks, revoker, cipher, log, onChanged: connectionChanged }),
    connect: createConnectService({
      prisma,
      redis,
      prefix,
      repo,
      cipher,
      config,
      revoker,
      onConnectionChanged: connectionChanged,
      // The first refresh, and the connection's Lever webhooks (a job: it calls Lever through the budget).
      onConnected: async (connection) => {
        await Promise.all([scheduler.schedule(connection), leverWebhooks.requestReconcile(connection.id)]);
      },
    }),
    apiKeys: createApiKeyService({ prisma, bus }),
    proxy,
    /** The id of the tenant with this external id, created on first use. */
    tenantIdOf: async (externalId: string) => (await upsertTenant(prisma, { externalId })).id,
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
