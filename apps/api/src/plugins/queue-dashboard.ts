import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Core } from '@lever-connect/connections';
import { QUEUE_NAMES } from '@lever-connect/runtime';
import { WEBHOOK_QUEUE_NAME } from '@lever-connect/webhooks';
import type { FastifyInstance } from 'fastify';

export const QUEUE_DASHBOARD_PATH = '/admin/queues';

type AnyQueue = Core['refreshQueue'];

/**
 * The queue dashboard (bull-board) at /admin/queues: the refresh, maintenance and webhooks queues, read and
 * operated (retry, promote, clean) by an operator. Every route it registers, its static assets included, is
 * under ADMIN_PREFIXES (route-access.ts), so the auth plugin asks for an unscoped API key in the
 * Authorization header on each request; browsers reach it through a proxy that adds that header
 * (docs/operating.md). Not wrapped in fastify-plugin: its view engine and static files stay encapsulated.
 */
export default async function queueDashboardPlugin(app: FastifyInstance) {
  const { core } = app;
  // apps/api does not depend on bullmq directly; the Queue class is the one the core already uses.
  const QueueClass = core.refreshQueue.constructor as new (name: string, options: { connection: Core['queueRedis']; prefix: string }) => AnyQueue;
  const queues = [QUEUE_NAMES.refresh, QUEUE_NAMES.maintenance, WEBHOOK_QUEUE_NAME, QUEUE_NAMES.leverWebhooks].map((name) => {
    const queue = new QueueClass(name, { connection: core.queueRedis, prefix: core.config.redisPrefix });
    queue.on('error', (err: Error) => app.log.warn({ err: { message: err.message }, queue: name }, 'queue dashboard: redis error'));
    return queue;
  });

  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(QUEUE_DASHBOARD_PATH);
  createBullBoard({
    queues: queues.map((q) => new BullMQAdapter(q)),
    // @bull-board/fastify 9.10.1 brings its own @bull-board/api 9.10.1 next to our 9.10.2: the two
    // BaseAdapter declarations differ only by version (a private field), so the types disagree, not the code.
    serverAdapter: serverAdapter as unknown as Parameters<typeof createBullBoard>[0]['serverAdapter'],
    options: { uiConfig: { boardTitle: 'lever-connect' } },
  });
  // bull-board answers whatever its routes throw with its own body (and the stack in development). Rethrown
  // from its error handler, an error goes to the next handler up the encapsulation chain: the app's
  // (plugins/errors.ts), so the dashboard answers in the one error shape and never echoes a stack.
  serverAdapter.setErrorHandler((error) => {
    throw error;
  });
  await app.register(serverAdapter.registerPlugin(), { prefix: QUEUE_DASHBOARD_PATH });

  app.addHook('onClose', async () => {
    // The connection is the core's (shared): closing a queue leaves it open for the core to close.
    await Promise.allSettled(queues.map((q) => q.close()));
  });
}
