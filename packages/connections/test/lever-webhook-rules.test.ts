import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { leverSignatureValid, readCreatedWebhook, readDelivery, readWebhookPage } from '../src/index.js';

const sign = (key: string, token: string, triggeredAt: number) => createHmac('sha256', key).update(`${token}${triggeredAt}`).digest('hex');

describe("Lever's webhook signature (hex HMAC-SHA256 of token + triggeredAt)", () => {
  const key = 'signature-token-of-the-webhook';
  const good = { token: 'tok', triggeredAt: 1_700_000_000_000, signature: sign(key, 'tok', 1_700_000_000_000) };
  it.each([
    ['the signature Lever computes', good, true],
    ['another token', { ...good, token: 'tok2' }, false],
    ['another time', { ...good, triggeredAt: good.triggeredAt + 1 }, false],
    ['a signature made with another key', { ...good, signature: sign('other', 'tok', good.triggeredAt) }, false],
    ['a truncated signature', { ...good, signature: good.signature.slice(0, 62) }, false],
  ])('%s → %s', (_name, delivery, valid) => {
    expect(leverSignatureValid(key, delivery)).toBe(valid);
  });
});

describe("reading Lever's answers (the one place its field names live)", () => {
  it('reads a created webhook and its signature token', () => {
    expect(readCreatedWebhook({ data: { id: 'w1', url: 'https://x/y', event: 'candidateHired', enabled: true, signatureToken: 'st' } })).toEqual({
      id: 'w1',
      url: 'https://x/y',
      event: 'candidateHired',
      enabled: true,
      signatureToken: 'st',
    });
    expect(readCreatedWebhook({ data: { id: 'w1', url: 'https://x/y', event: 'candidateHired' } })).toBeUndefined(); // no token: unusable
    expect(readCreatedWebhook({ error: 'x' })).toBeUndefined();
  });

  it('reads a page of webhooks and its next offset', () => {
    expect(readWebhookPage({ data: [{ id: 'a', url: 'u', event: 'e', enabled: false }, { nonsense: 1 }], hasNext: true, next: 'n1' })).toEqual({
      webhooks: [{ id: 'a', url: 'u', event: 'e', enabled: false }],
      next: 'n1',
    });
    expect(readWebhookPage({ data: [], hasNext: false }).next).toBeUndefined();
  });

  it.each([
    ['not an object', 'x', /JSON object/],
    ['no token', { triggeredAt: 1, signature: 'a'.repeat(64), event: 'e' }, /token/],
    ['triggeredAt not a number', { token: 't', triggeredAt: 'soon', signature: 'a'.repeat(64), event: 'e' }, /triggeredAt/],
    ['signature not hex', { token: 't', triggeredAt: 1, signature: 'zz', event: 'e' }, /signature/],
    ['no event', { token: 't', triggeredAt: 1, signature: 'a'.repeat(64) }, /event/],
  ])('refuses a delivery with %s', (_name, body, problem) => {
    const read = readDelivery(body);
    expect('problem' in read && read.problem).toMatch(problem);
  });

  it('reads a delivery (triggeredAt as a number or a numeric string)', () => {
    const read = readDelivery({ token: 't', triggeredAt: '1700000000000', signature: 'A'.repeat(64), event: 'candidateHired', data: { opportunityId: 'o' } });
    expect(read).toEqual({ delivery: { token: 't', triggeredAt: 1_700_000_000_000, signature: 'a'.repeat(64), event: 'candidateHired', data: { opportunityId: 'o' } } });
  });
});
