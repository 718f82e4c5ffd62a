import { describe, expect, it } from 'vitest';
import { backoffMs, effectiveLeadMs, isRefreshDue, nextRefreshAt } from '../src/refresh/schedule.js';

const at = (s: number) => new Date(Date.UTC(2026, 0, 1) + s * 1000);

describe('refresh scheduling', () => {
  it('fires the configured lead before expiry for an hour-long token', () => {
    const next = nextRefreshAt(at(3600), at(0), { leadSeconds: 600, jitterSeconds: 0 });
    expect(next).toEqual(at(3000));
  });

  it('caps the lead at a third of a short token lifetime', () => {
    expect(effectiveLeadMs(30_000, 600)).toBe(10_000);
    expect(nextRefreshAt(at(30), at(0), { leadSeconds: 600, jitterSeconds: 0 })).toEqual(at(20));
  });

  it('only ever moves the time earlier with jitter, within the jitter window', () => {
    const timing = { leadSeconds: 600, jitterSeconds: 60 };
    const ms = (date: Date) => date.getTime();
    // random() picks how far before the lead time it fires: 0 is the lead itself, 0.5 half the window earlier.
    expect(nextRefreshAt(at(3600), at(0), timing, () => 0)).toEqual(at(3000));
    expect(nextRefreshAt(at(3600), at(0), timing, () => 0.5)).toEqual(at(2970));
    expect(ms(nextRefreshAt(at(3600), at(0), timing, () => 0.999))).toBe(ms(at(3000)) - 59_940);
    // Jitter is capped at a sixth of a short lifetime (5 s of 30 s), so a 30 s token still fires after half its life.
    expect(ms(nextRefreshAt(at(30), at(0), timing, () => 0.5))).toBe(ms(at(20)) - 2_500);
    expect(ms(nextRefreshAt(at(30), at(0), timing, () => 0.999))).toBe(ms(at(20)) - 4_995);
    expect(ms(nextRefreshAt(at(30), at(0), timing, () => 0.999))).toBeGreaterThan(ms(at(15)));
  });

  it('says a token is due when less than the minimum TTL is left', () => {
    const token = { expiresAt: at(3600), issuedAt: at(0) };
    expect(isRefreshDue(token, 300, at(3200))).toBe(false);
    expect(isRefreshDue(token, 300, at(3300))).toBe(true);
    expect(isRefreshDue({ expiresAt: null, issuedAt: null }, 300, at(0))).toBe(true);
  });

  it('backs off exponentially with jitter and honours Retry-After', () => {
    const policy = { baseMs: 1000, capMs: 60_000 };
    expect(backoffMs(1, undefined, policy, () => 0.999)).toBeLessThan(1000);
    expect(backoffMs(5, undefined, policy, () => 0.999)).toBeGreaterThan(15_000);
    expect(backoffMs(20, undefined, policy, () => 0.999)).toBeLessThanOrEqual(60_000);
    expect(backoffMs(1, 7000, policy, () => 0)).toBe(7000);
    expect(backoffMs(3, undefined, policy, () => 0)).toBe(500);
  });
});
