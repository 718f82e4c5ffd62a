/**
 * How Lever's Webhooks Subscription API answers, read in one place (LEVER.md: "keep the field mapping in
 * one place"): if Lever's real answer names a field differently, this file is the one-line change.
 */
export interface LeverWebhook {
  id: string;
  url: string;
  event: string;
  enabled: boolean;
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
}

function webhookOf(value: unknown): LeverWebhook | undefined {
  const w = record(value);
  if (!w || typeof w.id !== 'string' || typeof w.url !== 'string' || typeof w.event !== 'string') return undefined;
  return { id: w.id, url: w.url, event: w.event, enabled: w.enabled !== false };
}

/** `POST /webhooks` → the new webhook and its signature token (in this answer only). */
export function readCreatedWebhook(body: unknown): (LeverWebhook & { signatureToken: string }) | undefined {
  const data = record(record(body)?.data);
  const webhook = webhookOf(data);
  const signatureToken = data?.signatureToken;
  return webhook && typeof signatureToken === 'string' && signatureToken.length > 0 ? { ...webhook, signatureToken } : undefined;
}

/** One page of `GET /webhooks`. */
export function readWebhookPage(body: unknown): { webhooks: LeverWebhook[]; next: string | undefined } {
  const page = record(body);
  const data = Array.isArray(page?.data) ? page.data : [];
  return {
    webhooks: data.map(webhookOf).filter((w): w is LeverWebhook => w !== undefined),
    next: page?.hasNext === true && typeof page.next === 'string' ? page.next : undefined,
  };
}

/** A delivery Lever posts to us: `{token, triggeredAt, signature, event, data}`. */
export interface LeverDelivery {
  token: string;
  triggeredAt: number;
  signature: string;
  event: string;
  data: Record<string, unknown>;
}

/** Reads a delivery's body, or says what is wrong with it. */
export function readDelivery(body: unknown): { delivery: LeverDelivery } | { problem: string } {
  const d = record(body);
  if (!d) return { problem: 'the body is not a JSON object' };
  if (typeof d.token !== 'string' || d.token.length === 0 || d.token.length > 200) return { problem: 'token is missing or not a string' };
  const triggeredAt = typeof d.triggeredAt === 'number' ? d.triggeredAt : typeof d.triggeredAt === 'string' && /^\d{1,15}$/.test(d.triggeredAt) ? Number(d.triggeredAt) : undefined;
  if (triggeredAt === undefined || !Number.isSafeInteger(triggeredAt)) return { problem: 'triggeredAt is missing or not epoch milliseconds' };
  if (typeof d.signature !== 'string' || !/^[0-9a-fA-F]{64}$/.test(d.signature)) return { problem: 'signature is missing or not a hex SHA-256 HMAC' };
  if (typeof d.event !== 'string' || d.event.length === 0) return { problem: 'event is missing' };
  const data = record(d.data) ?? {};
  return { delivery: { token: d.token, triggeredAt, signature: d.signature.toLowerCase(), event: d.event, data } };
}
