import { describe, expect, it } from 'vitest';
import { decideAfterAttempt, describeFailure, retryDelayMs, type AttemptResult } from '../src/index.js';

const policy = { retryDelaysSeconds: [5, 30, 120], disableAfterSeconds: 259_200 };
const now = new Date('2026-03-01T12:00:00.000Z');
const mid = () => 0.5; // no jitter
const at = (ms: number) => new Date(now.getTime() + ms);

describe('retry policy', () => {
  it.each([
    [1, 0.5, 5_000],
    [2, 0.5, 30_000],
    [3, 0.5, 120_000],
    [4, 0.5, undefined],
    [1, 0, 4_000], // -20%
    [1, 1, 6_000], // +20%
  ])('retry %i with random %f waits %s ms', (attempt, random, expected) => {
    expect(retryDelayMs(attempt, policy.retryDelaysSeconds, () => random)).toBe(expected);
  });

  it('spreads the default schedule over about a day', () => {
    const defaults = [5, 30, 120, 600, 3600, 10800, 21600, 43200];
    const total = defaults.reduce((a, b) => a + b, 0);
    expect(total / 3600).toBeGreaterThan(20);
    expect(total / 3600).toBeLessThan(26);
  });

  const cases: Array<[string, AttemptResult, number, Date | null, ReturnType<typeof decideAfterAttempt>]> = [
    ['200 succeeds', { status: 200 }, 1, null, { status: 'succeeded' }],
    ['204 succeeds', { status: 204 }, 3, new Date(0), { status: 'succeeded' }],
    ['299 succeeds', { status: 299 }, 1, null, { status: 'succeeded' }],
    ['500 retries after the first delay', { status: 500 }, 1, null, { status: 'pending', nextAttemptAt: at(5_000) }],
    ['a timeout retries', { error: 'no answer within 10000 ms' }, 2, now, { status: 'pending', nextAttemptAt: at(30_000) }],
    ['a 3xx is not success', { status: 302 }, 1, null, { status: 'pending', nextAttemptAt: at(5_000) }],
    ['a 400 retries', { status: 400 }, 3, null, { status: 'pending', nextAttemptAt: at(120_000) }],
    ['the last attempt fails the delivery', { status: 503 }, 4, null, { status: 'failed' }],
    ['410 disables at once', { status: 410 }, 1, null, { status: 'failed', disableEndpoint: 'endpoint answered 410 Gone' }],
    [
      'failing for 3 days disables',
      { status: 500 },
      2,
      new Date(now.getTime() - 259_200_000),
      { status: 'failed', disableEndpoint: `deliveries failing since ${new Date(now.getTime() - 259_200_000).toISOString()}` },
    ],
    ['failing for a little less keeps retrying', { status: 500 }, 2, new Date(now.getTime() - 259_199_000), { status: 'pending', nextAttemptAt: at(30_000) }],
  ];
  it.each(cases)('%s', (_name, result, attempts, failingSince, expected) => {
    expect(decideAfterAttempt({ result, attempts, failingSince, now, policy, random: mid })).toEqual(expected);
  });

  it.each([
    [{ status: 200 }, null],
    [{ status: 503 }, 'HTTP 503'],
    [{ error: 'ECONNREFUSED' }, 'ECONNREFUSED'],
    [{}, 'no response'],
    [{ error: 'x'.repeat(1000) }, `${'x'.repeat(299)}…`],
  ] as Array<[AttemptResult, string | null]>)('describes %j as %s', (result, expected) => {
    expect(describeFailure(result)).toBe(expected);
  });
});
