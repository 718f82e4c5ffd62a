import type { Webhook } from './webhooks.js';

/**
 * Every shape a webhook is shown in. The signature token leaves the sim in exactly one place,
 * `createdWebhookView`, used for the creation answer only (LEVER.md: shown once; a lost one means delete and
 * re-create). Lists, updates and the control plane's listing never carry it.
 */

/** What the Webhooks API answers for a webhook (GET list, PUT). */
export function webhookView(webhook: Webhook) {
  return {
    id: webhook.id,
    url: webhook.url,
    event: webhook.event,
    enabled: webhook.enabled,
    configuration: webhook.configuration,
    createdAt: webhook.createdAt,
  };
}

/** The creation answer (API `POST /webhooks`, and the control plane's "admin creates it in Lever settings"). */
export function createdWebhookView(webhook: Webhook) {
  return { ...webhookView(webhook), signatureToken: webhook.signatureToken };
}

/** `GET /__sim/webhooks`: who owns it and why it is disabled, still without the signature token. */
export function controlWebhookView(webhook: Webhook) {
  return {
    ...webhookView(webhook),
    account: webhook.account,
    environment: webhook.environment,
    createdVia: webhook.createdVia,
    consecutiveGiveUps: webhook.consecutiveGiveUps,
    ...(webhook.disabledAt !== undefined ? { disabledAt: webhook.disabledAt } : {}),
  };
}
