import type { PrismaClient } from '@lever-connect/db';
import type { Metrics } from '@lever-connect/runtime';
import type { Queue } from 'bullmq';

const OVERDUE_MS = 5 * 60_000;

/** Samples the gauges that live in Postgres and Redis; called right before a scrape is rendered. */
export async function sampleGauges(deps: { metrics: Metrics; prisma: PrismaClient; queues: readonly Queue[] }) {
  const [groups, failing, overdue] = await Promise.all([
    deps.prisma.connection.groupBy({ by: ['status', 'environment'], _count: { _all: true } }),
    deps.prisma.connection.groupBy({ by: ['environment'], where: { status: 'active', failingSince: { not: null } }, _count: { _all: true } }),
    deps.prisma.connection.count({ where: { status: 'active', nextRefreshAt: { lt: new Date(Date.now() - OVERDUE_MS) } } }),
  ]);
  deps.metrics.connectionsByStatus.reset();
  for (const g of groups) deps.metrics.connectionsByStatus.set({ status: g.status, environment: g.environment }, g._count._all);
  deps.metrics.connectionsFailing.reset();
  for (const g of failing) deps.metrics.connectionsFailing.set({ environment: g.environment }, g._count._all);
  deps.metrics.connectionsOverdue.set(overdue);
  deps.metrics.queueDepth.reset();
  for (const queue of deps.queues) {
    const counts = await queue.getJobCounts('waiting', 'delayed', 'active', 'failed', 'prioritized');
    for (const [state, n] of Object.entries(counts)) deps.metrics.queueDepth.set({ queue: queue.name, state }, n);
  }
}

