/** Lever's webhook events (LEVER.md, "Lever's own webhooks"): the only ones Lever's API accepts. */
export const LEVER_EVENTS = [
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

export type LeverEvent = (typeof LEVER_EVENTS)[number];

export const isLeverEvent = (value: string): value is LeverEvent => (LEVER_EVENTS as readonly string[]).includes(value);
