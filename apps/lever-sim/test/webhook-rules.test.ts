import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_DELAYS_MS, isDeliverySuccess, nextStep, shouldDisable } from '../src/webhook-delivery-policy.js';
import { parseWebhookCreate, parseWebhookUpdate } from '../src/webhook-input.js';

describe('webhook delivery policy', () => {
  const policy = { retryDelaysMs: DEFAULT_RETRY_DELAYS_MS };

  it.each([
    // attempt, ok, next step
    [1, true, { kind: 'delivered' }],
    [6, true, { kind: 'delivered' }],
    [1, false, { kind: 'retry', delayMs: 60_000 }],
    [2, false, { kind: 'retry', delayMs: 120_000 }],
    [3, false, { kind: 'retry', delayMs: 240_000 }],
    [4, false, { kind: 'retry', delayMs: 480_000 }],
    [5, false, { kind: 'retry', delayMs: 960_000 }],
    [6, false, { kind: 'given_up' }],
  ] as const)('after attempt %i (ok: %s) the next step is %j', (attempt, ok, step) => {
    expect(nextStep(attempt, ok, policy)).toEqual(step);
  });

  it('retries as many times as there are delays', () => {
    expect(nextStep(1, false, { retryDelaysMs: [] })).toEqual({ kind: 'given_up' });
    expect(nextStep(2, false, { retryDelaysMs: [5, 10] })).toEqual({ kind: 'retry', delayMs: 10 });
    expect(nextStep(3, false, { retryDelaysMs: [5, 10] })).toEqual({ kind: 'given_up' });
  });

  it.each([
    [0, 3, false],
    [2, 3, false],
    [3, 3, true],
    [1, 1, true],
  ])('%i given-up deliveries in a row with disableAfter %i: disable = %s', (giveUps, disableAfter, disable) => {
    expect(shouldDisable(giveUps, { disableAfter })).toBe(disable);
  });

  it.each([
    [200, true],
    [204, true],
    [299, true],
    [301, false],
    [400, false],
    [500, false],
  ])('status %i is success: %s', (status, ok) => {
    expect(isDeliverySuccess(status)).toBe(ok);
  });
});

describe('webhook input', () => {
  const valid = { url: 'https://hooks.example/lever', event: 'candidateStageChange' };

  it.each([
    [valid, true, { ...valid, configuration: {} }],
    [{ ...valid, configuration: { conditions: { stages: ['s1'] } } }, false, { ...valid, configuration: { conditions: { stages: ['s1'] } } }],
    [{ ...valid, url: 'http://127.0.0.1:9/hook' }, true, { ...valid, url: 'http://127.0.0.1:9/hook', configuration: {} }],
  ])('accepts %j (allowHttp %s)', (body, allowHttp, value) => {
    expect(parseWebhookCreate(body, allowHttp)).toEqual({ ok: true, value });
  });

  it.each([
    [{ ...valid, url: 'http://127.0.0.1:9/hook' }, 'url must use https'],
    [{ ...valid, url: 'ftp://hooks.example/x' }, 'url must use https'],
    [{ ...valid, url: 'not a url' }, 'url must be an absolute URL'],
    [{ event: valid.event }, 'url is required'],
    [{ ...valid, event: 'opportunityCreated' }, 'event must be one of'],
    [{ url: valid.url }, 'event must be one of'],
    [{ ...valid, configuration: [] }, 'configuration must be an object'],
    [{ ...valid, configuration: { conditions: 'stages' } }, 'configuration.conditions must be an object'],
    ['a string', 'Body must be a JSON object'],
  ])('refuses %j without http allowed: %s', (body, message) => {
    const parsed = parseWebhookCreate(body, false);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.message).toContain(message);
  });

  it('updates url, enabled and configuration only; the event is fixed', () => {
    expect(parseWebhookUpdate({ enabled: false }, false)).toEqual({ ok: true, value: { enabled: false } });
    expect(parseWebhookUpdate({ url: 'https://other.example/', configuration: {} }, false)).toEqual({
      ok: true,
      value: { url: 'https://other.example/', configuration: {} },
    });
    for (const body of [{}, { event: 'candidateHired' }, { enabled: 'yes' }, { url: 'http://x.example/' }]) {
      expect(parseWebhookUpdate(body, false).ok, JSON.stringify(body)).toBe(false);
    }
  });
});
