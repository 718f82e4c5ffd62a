import { isWebhookEvent, LEVER_WEBHOOK_EVENTS, type WebhookEvent } from './webhook-events.js';

/** `configuration.conditions` narrows which objects trigger the webhook (e.g. stages); the sim stores it as given. */
export type WebhookConfiguration = { conditions?: Record<string, unknown> };

export type WebhookCreateInput = { url: string; event: WebhookEvent; configuration: WebhookConfiguration };
export type WebhookUpdateInput = { url?: string; enabled?: boolean; configuration?: WebhookConfiguration };

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Lever accepts only HTTPS endpoints; `allowHttp` (never in production) lets tests use a local receiver. */
export function checkWebhookUrl(value: unknown, allowHttp: boolean): Parsed<string> {
  if (typeof value !== 'string' || value === '') return { ok: false, message: 'url is required' };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { ok: false, message: 'url must be an absolute URL' };
  }
  if (url.protocol === 'https:' || (url.protocol === 'http:' && allowHttp)) return { ok: true, value };
  return { ok: false, message: allowHttp ? 'url must use https or http' : 'url must use https' };
}

function checkConfiguration(value: unknown): Parsed<WebhookConfiguration> {
  if (!isObject(value)) return { ok: false, message: 'configuration must be an object' };
  if (value.conditions !== undefined && !isObject(value.conditions)) return { ok: false, message: 'configuration.conditions must be an object' };
  return { ok: true, value: value.conditions === undefined ? {} : { conditions: value.conditions } };
}

/** `POST /webhooks`: `{url, event, configuration?: {conditions?}}`. */
export function parseWebhookCreate(body: unknown, allowHttp: boolean): Parsed<WebhookCreateInput> {
  if (!isObject(body)) return { ok: false, message: 'Body must be a JSON object' };
  const url = checkWebhookUrl(body.url, allowHttp);
  if (!url.ok) return url;
  if (!isWebhookEvent(body.event)) return { ok: false, message: `event must be one of ${LEVER_WEBHOOK_EVENTS.join(', ')}` };
  const configuration = body.configuration === undefined ? ({ ok: true, value: {} } as const) : checkConfiguration(body.configuration);
  if (!configuration.ok) return configuration;
  return { ok: true, value: { url: url.value, event: body.event, configuration: configuration.value } };
}

/** `PUT /webhooks/:id`: any of `url`, `enabled`, `configuration`; the event is fixed (delete and re-create). */
export function parseWebhookUpdate(body: unknown, allowHttp: boolean): Parsed<WebhookUpdateInput> {
  if (!isObject(body)) return { ok: false, message: 'Body must be a JSON object' };
  if (body.event !== undefined) return { ok: false, message: 'event cannot be changed; delete the webhook and create another' };
  const update: WebhookUpdateInput = {};
  if (body.url !== undefined) {
    const url = checkWebhookUrl(body.url, allowHttp);
    if (!url.ok) return url;
    update.url = url.value;
  }
  if (body.enabled !== undefined) {
    if (typeof body.enabled !== 'boolean') return { ok: false, message: 'enabled must be a boolean' };
    update.enabled = body.enabled;
  }
  if (body.configuration !== undefined) {
    const configuration = checkConfiguration(body.configuration);
    if (!configuration.ok) return configuration;
    update.configuration = configuration.value;
  }
  if (Object.keys(update).length === 0) return { ok: false, message: 'Nothing to update: give url, enabled or configuration' };
  return { ok: true, value: update };
}
