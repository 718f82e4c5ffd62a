/** The ten events Lever delivers to webhooks (LEVER.md "Lever's own webhooks"); nothing else may be subscribed. */
export const LEVER_WEBHOOK_EVENTS = [
  'applicationCreated',
  'candidateHired',
  'candidateStageChange',
  'candidateArchiveChange',
  'candidateDeleted',
  'interviewCreated',
  'interviewUpdated',
  'interviewDeleted',
  'contactCreated',
  'contactUpdated',
] as const;

export type WebhookEvent = (typeof LEVER_WEBHOOK_EVENTS)[number];

export function isWebhookEvent(value: unknown): value is WebhookEvent {
  return typeof value === 'string' && (LEVER_WEBHOOK_EVENTS as readonly string[]).includes(value);
}
