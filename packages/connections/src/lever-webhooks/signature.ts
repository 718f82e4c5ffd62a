import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Lever's webhook signature (LEVER.md): hex HMAC-SHA256 of `token + triggeredAt`, keyed with the webhook's
 * signature token, in the body. Compared in constant time. Only those two fields are signed: the rest of
 * the body (`data`) is a hint, to read back from Lever's API when it matters.
 */
export function leverSignatureValid(signatureToken: string, delivery: { token: string; triggeredAt: number; signature: string }): boolean {
  const expected = createHmac('sha256', signatureToken).update(`${delivery.token}${delivery.triggeredAt}`).digest();
  const given = Buffer.from(delivery.signature, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
