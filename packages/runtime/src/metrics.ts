import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { createHttpMetrics } from './http-metrics.js';

/**
 * Prometheus metrics of the domain, one registry per process (api or worker), exposed at `/metrics`.
 * Labels are bounded sets (outcome, reason, environment): never a connection id.
 */
export function createMetrics(processName: 'api' | 'worker') {
  const registry = new Registry();
  registry.setDefaultLabels({ process: processName });
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    refreshAttempts: new Counter({
      name: 'lever_connect_refresh_attempts_total',
      help: 'Refresh attempts by outcome (refreshed, not_due, busy, failed, needs_reauth, unavailable...) and reason',
      labelNames: ['outcome', 'reason', 'trigger'] as const,
      registers: [registry],
    }),
    refreshDuration: new Histogram({
      name: 'lever_connect_refresh_duration_seconds',
      help: 'Duration of one refresh (lock, Lever call, fenced write) in seconds',
      labelNames: ['outcome'] as const,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    scheduleLag: new Histogram({
      name: 'lever_connect_refresh_schedule_lag_seconds',
      help: 'How late a sweep claimed a due connection (claimed minus due), in seconds',
      buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900],
      registers: [registry],
    }),
    lockContention: new Counter({
      name: 'lever_connect_lock_contention_total',
      help: 'Refreshes that found the connection locked (Redis lock or Postgres lease) by another refresher',
      labelNames: ['trigger'] as const,
      registers: [registry],
    }),
    lockWait: new Histogram({
      name: 'lever_connect_lock_wait_seconds',
      help: "Time to get a connection's refresh lock (Redlock), by outcome: acquired, busy (held elsewhere), unavailable (Redis)",
      labelNames: ['outcome'] as const,
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 5],
      registers: [registry],
    }),
    responseLost: new Counter({
      name: 'lever_connect_refresh_response_lost_total',
      help: 'Connections marked needs_reauth because a refresh response was lost after Lever rotated',
      registers: [registry],
    }),
    connectionsByStatus: new Gauge({
      name: 'lever_connect_connections',
      help: 'Connections by status and environment (sampled from Postgres at scrape time)',
      labelNames: ['status', 'environment'] as const,
      registers: [registry],
    }),
    connectionsFailing: new Gauge({
      name: 'lever_connect_connections_refresh_failing',
      help: 'Active connections whose refreshes keep failing transiently (failing since > 0), by environment (sampled at scrape time)',
      labelNames: ['environment'] as const,
      registers: [registry],
    }),
    connectionsOverdue: new Gauge({
      name: 'lever_connect_connections_overdue',
      help: 'Active connections more than 5 minutes past their next_refresh_at: the schedule is falling behind (sampled at scrape time)',
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'lever_connect_queue_jobs',
      help: 'BullMQ jobs by queue and state (sampled at scrape time)',
      labelNames: ['queue', 'state'] as const,
      registers: [registry],
    }),
    webhookDeliveries: new Counter({
      name: 'lever_connect_webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome (succeeded, retry, failed, disabled)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    proxyRequests: new Counter({
      name: 'lever_connect_proxy_requests_total',
      help: 'Calls through the Lever API proxy, by method and the status class answered (2xx, 4xx, 5xx; our own refusals included)',
      labelNames: ['method', 'status_class'] as const,
      registers: [registry],
    }),
    proxyWait: new Histogram({
      name: 'lever_connect_proxy_wait_seconds',
      help: "Time a proxied call waited for its turn in its Lever account's budget, in seconds",
      buckets: [0, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    proxyAttempts: new Histogram({
      name: 'lever_connect_proxy_attempts',
      help: 'Attempts one proxied call took (retries after 429, 5xx, timeouts, an early 401)',
      buckets: [1, 2, 3, 4, 6, 10],
      registers: [registry],
    }),
    leverRateLimited: new Counter({
      name: 'lever_connect_proxy_lever_429_total',
      help: "429s Lever's API answered to the proxy, by environment: the budget should keep this at zero (calls made with tokens from the token endpoint bypass it)",
      labelNames: ['environment'] as const,
      registers: [registry],
    }),
    leverWebhooksReceived: new Counter({
      name: 'lever_connect_lever_webhooks_received_total',
      help: "Deliveries of Lever's own webhooks accepted, by outcome (stored, duplicate: Lever retried one already stored)",
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    leverWebhooksRejected: new Counter({
      name: 'lever_connect_lever_webhooks_rejected_total',
      help: "Deliveries of Lever's own webhooks refused, by reason (malformed, unknown_subscription, signature_invalid, unavailable)",
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    leverWebhooksForwarded: new Counter({
      name: 'lever_connect_lever_webhooks_forwarded_total',
      help: "lever.* events fanned out to operator webhook endpoints (deliveries scheduled)",
      registers: [registry],
    }),
    grantRevocations: new Counter({
      name: 'lever_connect_grant_revocations_total',
      help: "Grants ended at Lever (POST /oauth/revoke, best effort), by trigger (disconnect, refused_grant) and result (revoked, http_error, timeout, network_error): anything but revoked left a grant live at Lever",
      labelNames: ['trigger', 'result'] as const,
      registers: [registry],
    }),
    http: createHttpMetrics(registry),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
