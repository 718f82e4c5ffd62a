import { randomBytes } from 'node:crypto';
import { loadConfig } from '@lever-connect/config';
import { describe, expect, it } from 'vitest';
import { decideAfterAttempt, describeFailure, failureRunGapMs, retryDelayMs, type AttemptResult } from '../src/index.js';

const policy = { retryDelaysSeconds: [5, 30, 120], disableAfterSeconds: 259_200 };
const now = new Date('2026-03-01T12:00:00.000Z');
const mid = () => 0.5; // no jitter
const at = (ms: number) => new Date(now.getTime() + ms);
/** The schedule a deployment gets when WEBHOOK_RETRY_DELAYS_SECONDS is unset, read through the real config. */
const defaults = loadConfig({ LEVER_ENV: 'simulator', TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('base64') }).webhooks.retryDelaysSeconds;

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

  it('spreads the default schedule over about a day, each wait longer than the one before', () => {
    const total = defaults.reduce((a, b) => a + b, 0);
    expect(total / 3600).toBeGreaterThan(20);
    expect(total / 3600).toBeLessThan(26);
    for (let i = 1; i < defaults.length; i++) expect(defaults[i]!).toBeGreaterThan(defaults[i - 1]!);
    // The last retry (with +20 % jitter at most) still lands within the day a receiver's outage may last.
    const lastRetryMs = defaults.reduce((sum, _, i) => sum + retryDelayMs(i + 1, defaults, () => 1)!, 0);
    expect(lastRetryMs).toBeLessThan(1.2 * 26 * 3_600_000);
    expect(retryDelayMs(defaults.length + 1, defaults, () => 1)).toBeUndefined();
  });

  const hour = 3_600_000;
  const day = 24 * hour;
  const ago = (ms: number) => new Date(now.getTime() - ms);
  const threeDays = 259_200_000;
  // [name, result, attempts, failingSince (stored run), lastFailureAt (latest earlier failure), decision]
  const cases: Array<[string, AttemptResult, number, Date | null, Date | null, ReturnType<typeof decideAfterAttempt>]> = [
    ['200 succeeds', { status: 200 }, 1, null, null, { status: 'succeeded' }],
    ['204 succeeds', { status: 204 }, 3, new Date(0), now, { status: 'succeeded' }],
    ['299 succeeds', { status: 299 }, 1, null, null, { status: 'succeeded' }],
    ['500 retries after the first delay and starts a run', { status: 500 }, 1, null, null, { status: 'pending', nextAttemptAt: at(5_000), failingSince: now }],
    ['a timeout retries', { error: 'no answer within 10000 ms' }, 2, ago(hour), ago(30_000), { status: 'pending', nextAttemptAt: at(30_000), failingSince: ago(hour) }],
    ['a 3xx is not success', { status: 302 }, 1, null, null, { status: 'pending', nextAttemptAt: at(5_000), failingSince: now }],
    ['a 400 retries', { status: 400 }, 3, null, null, { status: 'pending', nextAttemptAt: at(120_000), failingSince: now }],
    ['the last attempt fails the delivery', { status: 503 }, 4, null, null, { status: 'failed', failingSince: now }],
    ['410 disables at once', { status: 410 }, 1, null, null, { status: 'failed', failingSince: now, disableEndpoint: 'endpoint answered 410 Gone' }],
    [
      'failing for 3 days straight disables',
      { status: 500 },
      2,
      ago(threeDays),
      ago(hour),
      { status: 'failed', failingSince: ago(threeDays), disableEndpoint: `deliveries failing since ${ago(threeDays).toISOString()}` },
    ],
    ['failing for a little less keeps retrying', { status: 500 }, 2, ago(threeDays - 1_000), ago(hour), { status: 'pending', nextAttemptAt: at(30_000), failingSince: ago(threeDays - 1_000) }],
    // The gap: the longest delay (120 s) + 20% jitter + 1 h.
    [
      'a failure right at the gap still extends the run',
      { status: 500 },
      1,
      ago(threeDays),
      ago(144_000 + hour),
      { status: 'failed', failingSince: ago(threeDays), disableEndpoint: `deliveries failing since ${ago(threeDays).toISOString()}` },
    ],
    ['a failure after a quiet spell longer than the gap starts a new run instead of disabling', { status: 500 }, 1, ago(4 * day), ago(144_000 + hour + 1), { status: 'pending', nextAttemptAt: at(5_000), failingSince: now }],
    ['one failure on day 0, the next on day 4: a new run', { status: 500 }, 1, ago(4 * day), ago(4 * day), { status: 'pending', nextAttemptAt: at(5_000), failingSince: now }],
    ['a stored run with no recent failure known is a new run', { status: 503 }, 2, ago(4 * day), null, { status: 'pending', nextAttemptAt: at(30_000), failingSince: now }],
    ['410 after a quiet spell still disables, in a new run', { status: 410 }, 1, ago(4 * day), ago(4 * day), { status: 'failed', failingSince: now, disableEndpoint: 'endpoint answered 410 Gone' }],
    ['a recent failure without a stored run (cleared by a success) starts a run', { status: 500 }, 1, null, ago(hour), { status: 'pending', nextAttemptAt: at(5_000), failingSince: now }],
  ];
  it.each(cases)('%s', (_name, result, attempts, failingSince, lastFailureAt, expected) => {
    expect(decideAfterAttempt({ result, attempts, failingSince, lastFailureAt, now, policy, random: mid })).toEqual(expected);
  });

  it.each([
    [[5, 30, 120], 144_000 + 3_600_000],
    [defaults, 43_200_000 * 1.2 + 3_600_000], // the default schedule: 15.4 h
    [[], 3_600_000],
  ])('a failure run survives gaps up to the longest of %j + 20%% + 1 h (%i ms)', (delays, expected) => {
    expect(failureRunGapMs({ retryDelaysSeconds: delays })).toBe(expected);
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
