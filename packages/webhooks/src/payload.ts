/** The body every webhook carries. `id` is the event's id (also `webhook-id`): receivers de-duplicate on it. */
export interface WebhookPayload<T = unknown> {
  id: string;
  type: string;
  createdAt: string;
  data: T;
}

/** Serialises an outbox event; the same event always gives the same bytes, so retries sign identically. */
export function webhookBody(event: { id: string; type: string; createdAt: Date; data: unknown }): string {
  const payload: WebhookPayload = { id: event.id, type: event.type, createdAt: event.createdAt.toISOString(), data: event.data };
  return JSON.stringify(payload);
}
