import { randomBytes, randomUUID } from 'node:crypto';
import type { ApiEnvironment } from './audiences.js';
import type { WebhookEvent } from './webhook-events.js';
import type { WebhookConfiguration, WebhookUpdateInput } from './webhook-input.js';

/**
 * Lever webhooks, per account and environment. `createdVia` decides who may change one: LEVER.md says only
 * webhooks created through the Webhooks API can be changed through it, so those a Lever admin made in the
 * settings (the control plane plays the admin) are listed by the API but refused on update and delete.
 */
export interface Webhook {
  id: string;
  account: string;
  environment: ApiEnvironment;
  url: string;
  event: WebhookEvent;
  enabled: boolean;
  configuration: WebhookConfiguration;
  createdAt: number;
  createdVia: 'api' | 'admin';
  /** Keys this webhook's signatures. Shown once, in the creation answer (webhook-views.ts). */
  signatureToken: string;
  /** Deliveries given up in a row; a success sets it back to 0. */
  consecutiveGiveUps: number;
  disabledAt?: number;
}

export type WebhookCreate = Pick<Webhook, 'account' | 'environment' | 'url' | 'event' | 'configuration' | 'createdAt' | 'createdVia'>;

export interface WebhookStore {
  create(input: WebhookCreate): Webhook;
  find(id: string): Webhook | undefined;
  /** Oldest first; without a filter, every webhook of every account. */
  list(filter?: { account: string; environment: ApiEnvironment }): Webhook[];
  /** Enabled webhooks of the account and environment subscribed to the event. */
  subscribers(account: string, environment: ApiEnvironment, event: WebhookEvent): Webhook[];
  update(webhook: Webhook, update: WebhookUpdateInput): void;
  disable(webhook: Webhook, at: number): void;
  remove(id: string): boolean;
  clear(): void;
}

export function createWebhookStore(): WebhookStore {
  let webhooks = new Map<string, Webhook>();
  const list: WebhookStore['list'] = (filter) =>
    [...webhooks.values()].filter((w) => !filter || (w.account === filter.account && w.environment === filter.environment));
  return {
    create(input) {
      const webhook: Webhook = {
        ...input,
        id: randomUUID(),
        enabled: true,
        signatureToken: randomBytes(24).toString('hex'),
        consecutiveGiveUps: 0,
      };
      webhooks.set(webhook.id, webhook);
      return webhook;
    },
    find: (id) => webhooks.get(id),
    list,
    subscribers: (account, environment, event) => list({ account, environment }).filter((w) => w.enabled && w.event === event),
    update(webhook, update) {
      if (update.url !== undefined) webhook.url = update.url;
      if (update.configuration !== undefined) webhook.configuration = update.configuration;
      if (update.enabled === true && !webhook.enabled) {
        // Switched back on by its owner: the failures that disabled it are history.
        webhook.consecutiveGiveUps = 0;
        delete webhook.disabledAt;
      }
      if (update.enabled !== undefined) webhook.enabled = update.enabled;
    },
    disable(webhook, at) {
      webhook.enabled = false;
      webhook.disabledAt = at;
    },
    remove: (id) => webhooks.delete(id),
    clear() {
      webhooks = new Map();
    },
  };
}
