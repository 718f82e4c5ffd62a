/**
 * Every event type lever-connect emits. The outbox stores them, webhooks deliver them, `GET /v1/events`
 * lists them; the names are part of the public contract (docs/api.md), so they live in one list.
 */
export const EVENT_TYPES = [
  'connection.created',
  'connection.reauthorized',
  'connection.refreshed',
  'connection.needs_reauth',
  'connection.refresh_failing',
  'connection.recovered',
  'connection.expiring',
  'connection.deleted',
  'oauth_app.invalid_credentials',
  'webhook.test',
  'webhook_endpoint.disabled',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export const isEventType = (value: string): value is EventType => (EVENT_TYPES as readonly string[]).includes(value);
