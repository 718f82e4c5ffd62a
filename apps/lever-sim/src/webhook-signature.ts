import { createHmac } from 'node:crypto';

/**
 * Lever's webhook signature: hex HMAC-SHA256 of `token + triggeredAt` (the per-delivery token and the
 * epoch-ms timestamp, both in the body), keyed with the webhook's signature token. Only those two fields are
 * signed; `data` is not, which is why integrators read the object back from the API.
 */
export function signWebhookDelivery(signatureToken: string, token: string, triggeredAt: number): string {
  return createHmac('sha256', signatureToken).update(`${token}${triggeredAt}`).digest('hex');
}
