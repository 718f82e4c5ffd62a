import { LEVER_EVENTS, type LeverEvent } from '@lever-connect/config';

/** The events Lever itself sends (its webhooks), forwarded as `lever.<event>`. */
export const LEVER_EVENT_TYPES = LEVER_EVENTS.map((e) => `lever.${e}` as const) as ReadonlyArray<`lever.${LeverEvent}`>;

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
  // One per failed attempt (transient: the grant is kept): for the console's chart of refresh outcomes. Not in
  // the webhooks' default set (packages/webhooks/src/subscriptions.ts): in a Lever outage it fires per retry.
  'connection.refresh_failed',
  'connection.recovered',
  'connection.expiring',
  'connection.deleted',
  'connection.lever_webhooks_failed',
  'oauth_app.invalid_credentials',
  'webhook.test',
  'webhook_endpoint.disabled',
  ...LEVER_EVENT_TYPES,
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export const isEventType = (value: string): value is EventType => (EVENT_TYPES as readonly string[]).includes(value);
