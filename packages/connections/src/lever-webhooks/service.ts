import type { TokenCipher } from '@lever-connect/crypto';
import { sqlOf, writeEvent, type Database, type PrismaClient } from '@lever-connect/db';
import type { LeverWebhooksJobData } from '@lever-connect/runtime';
import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { ConnectionReads } from '../access/connection-reads.js';
import type { Viewer } from '../access/viewer.js';
import type { LeverProxy } from '../proxy/proxy.js';
import { connectionEvent } from '../store/connection-events.js';
import type { ConnectionRepo } from '../store/connection-repo.js';
import type { InvalidationBus } from '../tokens/invalidation.js';
import { createLeverWebhookReceiver, type RejectReason } from './receive.js';
import { reconcileLeverWebhooks, unsubscribeAtLever, type ReconcileReport } from './reconcile.js';
import { createSubscriptionStore, type LeverWebhookSubscription } from './subscription-store.js';

export interface LeverWebhookView extends LeverWebhookSubscription {
  /** When the last event of this subscription was stored. */
  lastEventAt: Date | null;
}

/**
 * Lever's own webhooks, end to end: subscribing each connection through Lever's Webhooks Subscription API
 * (reconcile.ts, run by the worker after connect and daily, or on demand), receiving signed deliveries
 * (receive.ts), and the subscriptions' view. Forwarding is the outbox relay's (packages/webhooks).
 */
export function createLeverWebhooks(deps: {
  database: Pick<Database, 'pool' | 'prisma'>;
  cipher: TokenCipher;
  repo: Pick<ConnectionRepo, 'findById'>;
  reads: Pick<ConnectionReads, 'get'>;
  proxy: Pick<LeverProxy, 'forward'>;
  queue: Pick<Queue<LeverWebhooksJobData>, 'add'>;
  publicBaseUrl: string;
  bus?: Pick<InvalidationBus, 'subscribe'>;
  log: Logger;
  onRejected?(reason: RejectReason): void;
}) {
  const store = createSubscriptionStore({ database: deps.database, cipher: deps.cipher });
  const prisma: PrismaClient = deps.database.prisma;
  const sql = sqlOf(deps.database.pool);
  const reconcileDeps = {
    repo: deps.repo,
    store,
    proxy: deps.proxy,
    publicBaseUrl: deps.publicBaseUrl,
    log: deps.log,
    emitFailed: async (connection: Parameters<typeof connectionEvent>[1], event: string, reason: string) => {
      await writeEvent(prisma, connectionEvent('connection.lever_webhooks_failed', connection, { reason: `${event}: ${reason}` }));
    },
  };

  return {
    receiver: createLeverWebhookReceiver({ database: deps.database, store, ...(deps.bus ? { bus: deps.bus } : {}), ...(deps.onRejected ? { onRejected: deps.onRejected } : {}) }),

    /** Makes Lever's webhooks of one connection match ours, now (the worker's job; on demand). */
    reconcile: (connectionId: string): Promise<ReconcileReport> => reconcileLeverWebhooks(reconcileDeps, connectionId),

    /** Asks the worker to reconcile one connection (after connect). Jobs of one connection coalesce while queued. */
    async requestReconcile(connectionId: string): Promise<void> {
      await deps.queue.add('reconcile', { connectionId }, { jobId: `lw-${connectionId}`, removeOnComplete: true, removeOnFail: 100, attempts: 8, backoff: { type: 'exponential', delay: 5_000 } });
    },

    /** Before a disconnect: our webhooks at Lever go first (best effort), while the grant can still call Lever. */
    unsubscribe: (connectionId: string) => unsubscribeAtLever(reconcileDeps, connectionId),

    /** The connection's subscriptions, behind the tenant wall, with when each last delivered an event. */
    async list(viewer: Viewer, connectionId: string): Promise<LeverWebhookView[]> {
      const connection = await deps.reads.get(viewer, connectionId);
      const subscriptions = await store.list(connection.id);
      const last = await sql.query<{ type: string; at: Date }>(
        `SELECT "type", max("createdAt") AS "at" FROM "events" WHERE "connectionId" = $1 AND "type" LIKE 'lever.%' GROUP BY "type"`,
        [connection.id],
      );
      const byType = new Map(last.map((r) => [r.type, r.at]));
      return subscriptions.map((s) => ({ ...s, lastEventAt: byType.get(`lever.${s.event}`) ?? null }));
    },

    /** Every connection that has or wants Lever webhooks (the daily reconcile). */
    async connectionsToReconcile(): Promise<string[]> {
      const rows = await sql.query<{ id: string }>(
        `SELECT c."id" FROM "connections" c WHERE c."status" = 'active'
            AND (cardinality(c."leverWebhookEvents") > 0 OR EXISTS (SELECT 1 FROM "lever_webhook_subscriptions" s WHERE s."connectionId" = c."id"))`,
      );
      return rows.map((r) => r.id);
    },
  };
}

export type LeverWebhooks = ReturnType<typeof createLeverWebhooks>;
