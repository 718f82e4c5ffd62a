import { randomBytes } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { createApiStats, type ApiStats } from './api-stats.js';
import { createClientRegistry, type ClientRegistry } from './clients.js';
import { createClock, type Clock } from './clock.js';
import { createAccountDirectory, type AccountDirectory } from './data.js';
import { createFaultQueue, type FaultQueue } from './faults.js';
import { DEFAULT_AUDIENCES, runtimeConfigFrom, type RuntimeConfig, type SimOptions } from './options.js';
import { createPendingConsents, type PendingConsents } from './pending-consents.js';
import { API_RATE, APPLICATIONS_RATE, createRateLimiter, type BucketPolicy, type RateLimiter } from './rate-limit.js';
import { createUnreadAnswers, type UnreadAnswers } from './rotation-delivery.js';
import { createStats, type Stats } from './stats.js';
import { createStore, type Store } from './store.js';
import { createWebhookDeliverer, type WebhookDeliverer } from './webhook-delivery.js';
import { DEFAULT_DISABLE_AFTER, DEFAULT_RETRY_DELAYS_MS, DEFAULT_WEBHOOK_TIMEOUT_MS } from './webhook-delivery-policy.js';
import { createWebhookStore, type WebhookStore } from './webhooks.js';

/**
 * The simulator's composition root: every piece of state of one sim instance. Nothing is module-global, so
 * several sims can run in one process (tests of other packages boot their own).
 */
export interface SimContext {
  options: SimOptions;
  /** Mutable through POST /__sim/config. */
  config: RuntimeConfig;
  audiences: ReadonlySet<string>;
  rateLimits: { api: BucketPolicy; applications: BucketPolicy };
  signingSecret: Uint8Array;
  clock: Clock;
  clients: ClientRegistry;
  store: Store;
  stats: Stats;
  /** Per-account API answers and accepted requests per second (`/__sim/stats/api`). */
  apiStats: ApiStats;
  faults: FaultQueue;
  limiter: RateLimiter;
  accounts: AccountDirectory;
  pending: PendingConsents;
  webhooks: WebhookStore;
  /** Sends webhook events in the background; closed with the app. */
  deliveries: WebhookDeliverer;
  /** Answers with new tokens not yet shown read by their client (rotation-delivery.ts). */
  unreadAnswers: UnreadAnswers;
  /** Aborted when the app closes, to release requests held by `timeout`/`slow` faults. */
  shutdown: AbortController;
  /** Clears state and counters, keeps configuration (POST /__sim/reset). */
  reset(): void;
}

export function createSimContext(options: SimOptions, log: Pick<FastifyBaseLogger, 'debug' | 'info' | 'error'>): SimContext {
  const clock = createClock();
  const stats = createStats();
  const webhooks = createWebhookStore();
  const context: SimContext = {
    options,
    config: runtimeConfigFrom(options),
    audiences: new Set(options.audiences ?? DEFAULT_AUDIENCES),
    rateLimits: { api: options.rateLimits?.api ?? API_RATE, applications: options.rateLimits?.applications ?? APPLICATIONS_RATE },
    signingSecret: options.signingSecret ? Buffer.from(options.signingSecret) : randomBytes(64),
    clock,
    clients: createClientRegistry(options.clients),
    store: createStore({ secretsLimit: options.secretsLimit }),
    stats,
    apiStats: createApiStats(),
    faults: createFaultQueue(),
    limiter: createRateLimiter(clock),
    accounts: createAccountDirectory(),
    pending: createPendingConsents(),
    webhooks,
    deliveries: createWebhookDeliverer({
      webhooks,
      stats,
      clock,
      log,
      policy: {
        retryDelaysMs: options.webhookRetryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS,
        timeoutMs: options.webhookTimeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS,
        disableAfter: options.webhookDisableAfter ?? DEFAULT_DISABLE_AFTER,
      },
    }),
    unreadAnswers: createUnreadAnswers(),
    shutdown: new AbortController(),
    reset() {
      context.store.clear();
      context.stats.reset();
      context.apiStats.clear();
      context.faults.clear();
      context.limiter.clear();
      context.accounts.clear();
      context.pending.clear();
      // Pending deliveries first: none may fire at a webhook of the next test.
      context.deliveries.clear();
      context.webhooks.clear();
      context.clock.reset();
    },
  };
  return context;
}
