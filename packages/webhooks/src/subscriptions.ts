import { EVENT_TYPES, isEventType, type EventType } from '@lever-connect/runtime';

export { isEventType };

/**
 * Events an endpoint receives only when it names them: `connection.refreshed` fires about hourly per
 * connection, `connection.refresh_failed` once per failed attempt (a Lever outage makes it a storm); both are
 * noise for most operators, who hear about trouble from `connection.refresh_failing` instead.
 */
export const OPT_IN_EVENT_TYPES: readonly EventType[] = ['connection.refreshed', 'connection.refresh_failed'];

/**
 * What an endpoint receives when it names no event types: everything but OPT_IN_EVENT_TYPES and Lever's own
 * events (`lever.*`), which an endpoint gets only when it asks for them, by name or as `lever.*` (an existing
 * endpoint sees no change when a customer's Lever starts sending).
 */
export const DEFAULT_EVENT_TYPES: readonly EventType[] = EVENT_TYPES.filter((t) => !OPT_IN_EVENT_TYPES.includes(t) && !t.startsWith('lever.'));

/** Subscribes an endpoint to every event Lever sends (`lever.candidateStageChange`, ...). */
export const LEVER_WILDCARD = 'lever.*';

/** A name an endpoint may subscribe to: an event type, or `lever.*`. */
export const isSubscribable = (value: string): boolean => value === LEVER_WILDCARD || isEventType(value);

export interface SubscribedEndpoint {
  id: string;
  enabled: boolean;
  /** Empty means DEFAULT_EVENT_TYPES. */
  eventTypes: readonly string[];
  /** Only this tenant's events when set. */
  tenantId: string | null;
}

export interface RoutableEvent {
  type: string;
  tenantId: string | null;
  data: unknown;
}

export function effectiveEventTypes(eventTypes: readonly string[]): readonly string[] {
  return eventTypes.length > 0 ? eventTypes : DEFAULT_EVENT_TYPES;
}

/**
 * Whether an event goes to an endpoint. `webhook.test` goes only to the endpoint it names, whatever it
 * subscribes to. A tenant filter admits only that tenant's events, never tenant-less ones.
 */
export function endpointMatches(endpoint: SubscribedEndpoint, event: RoutableEvent): boolean {
  if (!endpoint.enabled) return false;
  if (event.type === 'webhook.test') {
    const target = (event.data as { endpointId?: unknown } | null)?.endpointId;
    return target === endpoint.id;
  }
  const types = effectiveEventTypes(endpoint.eventTypes);
  if (!types.includes(event.type) && !(event.type.startsWith('lever.') && types.includes(LEVER_WILDCARD))) return false;
  return endpoint.tenantId === null || endpoint.tenantId === event.tenantId;
}
