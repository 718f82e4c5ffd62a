import { AppError } from '@lever-connect/errors';
import type { Logger } from 'pino';
import type { LeverProxy } from '../proxy/proxy.js';
import type { ConnectionRepo, ConnectionWithTenant } from '../store/connection-repo.js';
import { readCreatedWebhook, type LeverWebhook } from './lever-api-shapes.js';
import { leverWebhooksApi } from './lever-calls.js';
import type { LeverWebhookSubscription, SubscriptionStore } from './subscription-store.js';

export interface ReconcileDeps {
  repo: Pick<ConnectionRepo, 'findById'>;
  store: SubscriptionStore;
  proxy: Pick<LeverProxy, 'forward'>;
  /** PUBLIC_BASE_URL: our webhooks at Lever point at `<it>/lever/webhooks/<subscription id>`. */
  publicBaseUrl: string;
  /** Writes `connection.lever_webhooks_failed` (the outbox, with the connection's tenant). */
  emitFailed(connection: ConnectionWithTenant, event: string, reason: string): Promise<void>;
  log: Logger;
}

export interface ReconcileReport {
  created: number;
  enabled: number;
  deleted: number;
  failed: number;
  subscriptions: LeverWebhookSubscription[];
}

/** Lever refused for good: a scope the grant lacks (403), or the account has no webhooks API (404). */
function permanentFailure(error: unknown, status?: number): string | undefined {
  if (error instanceof AppError && error.code === 'lever_forbidden') return `Lever answered 403: ${error.message}`;
  if (status === 403 || status === 404) return `Lever answered ${status}`;
  return undefined;
}

/**
 * Makes Lever's list of webhooks match ours for one connection (after connect, on demand, daily): creates
 * what is missing, re-enables what Lever disabled (it does so silently after failed deliveries), deletes
 * what is no longer wanted and strays pointing at our base URL (a webhook we created and lost track of).
 * Registration Lever refuses for good marks the subscription `failed` and emits
 * `connection.lever_webhooks_failed` once. Other failures throw: the job is retried.
 */
export async function reconcileLeverWebhooks(deps: ReconcileDeps, connectionId: string): Promise<ReconcileReport> {
  const report: ReconcileReport = { created: 0, enabled: 0, deleted: 0, failed: 0, subscriptions: [] };
  const connection = await deps.repo.findById(connectionId);
  if (!connection || connection.status !== 'active') {
    report.subscriptions = await deps.store.list(connectionId);
    return report; // no grant to call Lever with: the reconnect reconciles
  }
  const ours = await deps.store.ensure(connection.id, connection.leverWebhookEvents);
  if (ours.length === 0) return report; // nothing wanted, nothing of ours at Lever: no call spent
  const api = leverWebhooksApi(deps.proxy, connection.id);
  const prefix = `${deps.publicBaseUrl}/lever/webhooks/`;
  const urlOf = (s: LeverWebhookSubscription) => prefix + s.id;
  const wanted = new Set(connection.leverWebhookEvents);
  let theirs: LeverWebhook[];
  try {
    theirs = await api.list();
  } catch (error) {
    const failure = permanentFailure(error);
    if (!failure) throw error;
    // Lever refuses the webhooks API itself to this grant: every subscription fails with the same reason.
    for (const s of ours.filter((s) => wanted.has(s.event))) await fail(deps, connection, s, failure, report);
    report.subscriptions = await deps.store.list(connection.id);
    return report;
  }

  // Strays and the no-longer-wanted: every webhook of ours at Lever that no wanted subscription owns.
  const owned = new Map(ours.filter((s) => wanted.has(s.event)).map((s) => [urlOf(s), s]));
  for (const webhook of theirs) {
    if (!webhook.url.startsWith(prefix)) continue; // not ours (an admin's own, another deployment's)
    const owner = owned.get(webhook.url);
    if (owner && owner.leverWebhookId === webhook.id && owner.event === webhook.event) continue;
    await api.remove(webhook.id);
    report.deleted++;
  }
  for (const s of ours.filter((s) => !wanted.has(s.event))) await deps.store.remove(s.id);

  for (const s of ours.filter((s) => wanted.has(s.event))) {
    const atLever: LeverWebhook | undefined = theirs.find((w) => w.id === s.leverWebhookId && w.url === urlOf(s));
    if (s.state === 'active' && atLever) {
      if (!atLever.enabled) {
        await api.enable(atLever.id);
        report.enabled++;
      }
      continue;
    }
    let failure: string | undefined;
    try {
      const answer = await api.create(urlOf(s), s.event);
      const created = answer.status === 201 || answer.status === 200 ? readCreatedWebhook(answer.body) : undefined;
      if (created) {
        await deps.store.markActive(s.id, created.id, created.signatureToken);
        report.created++;
        continue;
      }
      failure = permanentFailure(undefined, answer.status);
      if (!failure) throw new Error(`Lever answered ${answer.status} to POST /webhooks without a webhook`);
    } catch (error) {
      failure = permanentFailure(error);
      if (!failure) throw error;
    }
    await fail(deps, connection, s, failure, report);
  }
  report.subscriptions = await deps.store.list(connection.id);
  return report;
}

/** Records a refusal for good, and says so (`connection.lever_webhooks_failed`) once per subscription. */
async function fail(deps: ReconcileDeps, connection: ConnectionWithTenant, s: LeverWebhookSubscription, failure: string, report: ReconcileReport) {
  report.failed++;
  if (await deps.store.markFailed(s.id, failure)) await deps.emitFailed(connection, s.event, failure);
  deps.log.warn({ connectionId: connection.id, event: s.event, reason: failure }, 'Lever refused a webhook subscription');
}

/**
 * Before a disconnect wipes the tokens: deletes our webhooks at Lever (best effort, a few tries; a
 * connection whose grant is gone cannot call Lever, and its webhooks die with the grant's deliveries
 * answered 404 until Lever disables them).
 */
export async function unsubscribeAtLever(deps: Pick<ReconcileDeps, 'store' | 'proxy' | 'log'>, connectionId: string): Promise<void> {
  const api = leverWebhooksApi(deps.proxy, connectionId);
  for (const s of await deps.store.list(connectionId)) {
    await deleteAtLever(deps, api, connectionId, s.leverWebhookId);
    // Whatever Lever said: the connection is going away, and a delivery to this id now answers 404.
    await deps.store.remove(s.id);
  }
}

/** Deletes one webhook at Lever, a few tries (the proxy already retries 429s and 5xx within each). */
async function deleteAtLever(deps: Pick<ReconcileDeps, 'log'>, api: ReturnType<typeof leverWebhooksApi>, connectionId: string, leverWebhookId: string | null): Promise<void> {
  if (!leverWebhookId) return;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      const answer = await api.remove(leverWebhookId);
      if (answer.status < 300 || answer.status === 404) return;
    } catch (error) {
      // No grant to call Lever with: its webhooks die with the grant's deliveries answered 404.
      if (error instanceof AppError && (error.code === 'needs_reauth' || error.code === 'not_found' || error.code === 'connection_disconnected')) return;
      if (attempt === 3) deps.log.warn({ connectionId, leverWebhookId, err: error }, 'could not delete a Lever webhook; Lever disables it once deliveries fail');
    }
  }
}

