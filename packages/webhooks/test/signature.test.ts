import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { verifyWebhook, WebhookVerificationError } from '@lever-connect/sdk';
import { generateWebhookSecret, sign, signedHeaders } from '../src/index.js';

const body = JSON.stringify({ id: 'evt', type: 'connection.needs_reauth', createdAt: '2026-01-01T00:00:00.000Z', data: { a: 'é' } });
const id = '2c6b6f3e-7c53-4d47-9b3a-1b0f5c1f0e11';

describe('webhook signatures (Standard Webhooks)', () => {
  it('generates whsec_ secrets of 32 random bytes', () => {
    const secret = generateWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(secret.slice(6), 'base64')).toHaveLength(32);
    expect(generateWebhookSecret()).not.toBe(secret);
  });

  it('signs exactly as the standardwebhooks reference library does', () => {
    for (let i = 0; i < 5; i++) {
      const secret = generateWebhookSecret();
      const ts = 1_700_000_000 + i;
      expect(sign(secret, id, ts, body)).toBe(new Webhook(secret).sign(id, new Date(ts * 1000), body));
    }
  });

  it('produces headers the reference library verifies, with one or two secrets', () => {
    const current = generateWebhookSecret();
    const previous = generateWebhookSecret();
    const now = Math.floor(Date.now() / 1000);
    const single = signedHeaders([current], id, now, body);
    expect(new Webhook(current).verify(body, { ...single })).toEqual(JSON.parse(body));
    const both = signedHeaders([current, previous], id, now, body);
    expect(both['webhook-signature'].split(' ')).toHaveLength(2);
    expect(new Webhook(current).verify(body, { ...both })).toEqual(JSON.parse(body));
    expect(new Webhook(previous).verify(body, { ...both })).toEqual(JSON.parse(body));
    expect(() => new Webhook(generateWebhookSecret()).verify(body, { ...both })).toThrow();
  });

  const secret = generateWebhookSecret();
  const nowMs = 1_750_000_000_000;
  const ts = Math.floor(nowMs / 1000);
  const good = signedHeaders([secret], id, ts, body);
  it.each([
    ['a valid message', good, body, undefined],
    ['headers in any case', { 'Webhook-Id': good['webhook-id'], 'WEBHOOK-TIMESTAMP': good['webhook-timestamp'], 'webhook-signature': good['webhook-signature'] }, body, undefined],
    ['a timestamp 299 s old', signedHeaders([secret], id, ts - 299, body), body, undefined],
    ['a timestamp 301 s old', signedHeaders([secret], id, ts - 301, body), body, 'too old'],
    ['a timestamp 301 s ahead', signedHeaders([secret], id, ts + 301, body), body, 'too new'],
    ['a changed body', good, body.replace('needs_reauth', 'recovered'), 'no matching signature'],
    ['another id', { ...good, 'webhook-id': 'other' }, body, 'no matching signature'],
    ['another secret', signedHeaders([generateWebhookSecret()], id, ts, body), body, 'no matching signature'],
    ['a v2 signature only', { ...good, 'webhook-signature': good['webhook-signature'].replace('v1,', 'v2,') }, body, 'no matching signature'],
    ['missing headers', { 'webhook-id': id }, body, 'missing'],
    ['a non-numeric timestamp', { ...good, 'webhook-timestamp': '12abc' }, body, 'invalid webhook-timestamp'],
  ] as const)('verifyWebhook: %s', (_name, headers, payload, error) => {
    const run = () => verifyWebhook(secret, { ...headers }, payload, { now: nowMs });
    if (error) expect(run).toThrow(new RegExp(error));
    else expect(run()).toEqual(JSON.parse(body));
    if (error) expect(run).toThrow(WebhookVerificationError);
  });

  it('verifyWebhook accepts a message signed with the previous and the current secret, by either', () => {
    const previous = generateWebhookSecret();
    const headers = signedHeaders([secret, previous], id, ts, body);
    expect(verifyWebhook(previous, { ...headers }, Buffer.from(body), { now: nowMs })).toEqual(JSON.parse(body));
    expect(verifyWebhook(secret, { ...headers }, body, { now: nowMs })).toEqual(JSON.parse(body));
  });

  it('verifyWebhook honours a custom tolerance', () => {
    const old = signedHeaders([secret], id, ts - 100, body);
    expect(() => verifyWebhook(secret, { ...old }, body, { now: nowMs, toleranceSeconds: 60 })).toThrow(/too old/);
  });
});
