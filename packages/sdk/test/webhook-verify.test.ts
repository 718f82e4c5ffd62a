import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { verifyWebhook, WebhookVerificationError } from '../src/index.js';

// Signatures come from the `standardwebhooks` reference library (a root dev dependency, never the SDK's),
// so this checks the SDK's own node:crypto verifier against an independent implementation.
const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;
const body = JSON.stringify({ id: 'evt_1', type: 'connection.needs_reauth', createdAt: '2026-01-01T00:00:00.000Z', data: { name: 'Zoë' } });
const msgId = 'a8c5e1f2-52c1-4d3c-9a5e-0f1e2d3c4b5a';
const nowMs = 1_750_000_000_000;
const nowSeconds = Math.floor(nowMs / 1000);

/** The three headers as a Standard Webhooks sender makes them, one `v1,` signature per secret. */
function signed(secrets: string[], timestampSeconds: number, payload = body, id = msgId) {
  const at = new Date(timestampSeconds * 1000);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': secrets.map((s) => new Webhook(s).sign(id, at, payload)).join(' '),
  };
}

describe('verifyWebhook (Standard Webhooks, node:crypto)', () => {
  const secret = newSecret();
  const good = signed([secret], nowSeconds);

  it('accepts a message the reference library signed, and returns the parsed body', () => {
    expect(verifyWebhook(secret, good, body, { now: nowMs })).toEqual(JSON.parse(body));
    expect(verifyWebhook(secret, good, Buffer.from(body), { now: nowMs })).toEqual(JSON.parse(body));
  });

  it('agrees with the reference verifier on a message signed now', () => {
    const headers = signed([secret], Math.floor(Date.now() / 1000));
    expect(verifyWebhook(secret, headers, body)).toEqual(new Webhook(secret).verify(body, headers));
  });

  it('accepts a secret without its whsec_ prefix', () => {
    expect(verifyWebhook(secret.slice('whsec_'.length), good, body, { now: nowMs })).toEqual(JSON.parse(body));
  });

  it('accepts any one of several v1 signatures (secret rotation), skipping other schemes', () => {
    const previous = newSecret();
    const both = signed([newSecret(), previous], nowSeconds);
    expect(both['webhook-signature'].split(' ')).toHaveLength(2);
    expect(verifyWebhook(previous, both, body, { now: nowMs })).toEqual(JSON.parse(body));
    const withAsymmetric = { ...good, 'webhook-signature': `v1a,${randomBytes(64).toString('base64')} ${good['webhook-signature']}` };
    expect(verifyWebhook(secret, withAsymmetric, body, { now: nowMs })).toEqual(JSON.parse(body));
  });

  it('reads headers in any case, as arrays (node), or from a fetch Headers object', () => {
    const mixed = { 'Webhook-Id': [good['webhook-id']], 'WEBHOOK-TIMESTAMP': good['webhook-timestamp'], 'webhook-signature': good['webhook-signature'] };
    expect(verifyWebhook(secret, mixed, body, { now: nowMs })).toEqual(JSON.parse(body));
    expect(verifyWebhook(secret, new Headers(good), body, { now: nowMs })).toEqual(JSON.parse(body));
  });

  it('allows a clock skew of 5 minutes either way by default, and a configured tolerance', () => {
    expect(() => verifyWebhook(secret, signed([secret], nowSeconds - 300), body, { now: nowMs })).not.toThrow();
    expect(() => verifyWebhook(secret, signed([secret], nowSeconds + 300), body, { now: nowMs })).not.toThrow();
    expect(() => verifyWebhook(secret, signed([secret], nowSeconds - 60), body, { now: nowMs, toleranceSeconds: 30 })).toThrow(/too old/);
  });

  it.each([
    ['a timestamp 301 s old', () => signed([secret], nowSeconds - 301), body, /too old/],
    ['a timestamp 301 s ahead', () => signed([secret], nowSeconds + 301), body, /too new/],
    ['a changed body', () => good, body.replace('needs_reauth', 'recovered'), /no matching signature/],
    ['another message id', () => ({ ...good, 'webhook-id': 'other' }), body, /no matching signature/],
    ['another timestamp than the signed one', () => ({ ...good, 'webhook-timestamp': String(nowSeconds - 1) }), body, /no matching signature/],
    ['another secret', () => signed([newSecret()], nowSeconds), body, /no matching signature/],
    ['a v2 signature only', () => ({ ...good, 'webhook-signature': good['webhook-signature'].replace('v1,', 'v2,') }), body, /no matching signature/],
    ['a truncated signature', () => ({ ...good, 'webhook-signature': good['webhook-signature'].slice(0, -4) }), body, /no matching signature/],
    ['no signature header', () => ({ 'webhook-id': msgId, 'webhook-timestamp': String(nowSeconds) }), body, /missing/],
    ['a non-numeric timestamp', () => ({ ...good, 'webhook-timestamp': '17500e5' }), body, /invalid webhook-timestamp/],
    ['a signed body that is not JSON', () => signed([secret], nowSeconds, 'not json'), 'not json', /not JSON/],
  ] as const)('rejects %s with WebhookVerificationError', (_name, headers, payload, message) => {
    const run = () => verifyWebhook(secret, headers(), payload, { now: nowMs });
    expect(run).toThrow(WebhookVerificationError);
    expect(run).toThrow(message);
  });

  it('carries a stable code on the error', () => {
    try {
      verifyWebhook(secret, good, `${body} `, { now: nowMs });
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ name: 'WebhookVerificationError', code: 'webhook_verification_failed' });
    }
  });
});
