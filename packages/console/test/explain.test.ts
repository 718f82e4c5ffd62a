import { describe, expect, it } from 'vitest';
import { canSee } from '../web/access.ts';
import { describeDelivery, describeEvent, explainConnection } from '../web/explain.ts';

const NOW = Date.parse('2026-03-01T10:00:00Z');
const DAY = 86_400_000;
const base = {
  status: 'active' as const,
  reauthReason: null,
  refreshAttemptCount: 0,
  lastRefreshError: null,
  nextRefreshAt: '2026-03-01T10:50:00Z',
  lastRefreshedAt: '2026-03-01T09:50:00Z',
  grantExpiresAt: new Date(NOW + 200 * DAY).toISOString(),
  environment: 'production' as const,
};

describe('a connection in plain words', () => {
  it.each([
    ['healthy', {}, 'ok', 'Healthy', /refreshed automatically/, /Nothing to do/],
    ['the customer revoked it', { status: 'needs_reauth', reauthReason: 'invalid_grant' }, 'bad', 'Needs reconnect', /removed the app in Lever or the grant expired/, /Send them a reconnect link/],
    ['we lost a refresh answer', { status: 'needs_reauth', reauthReason: 'refresh_response_lost' }, 'bad', 'Needs reconnect', /lost \(our side\)/, /not the customer's doing/],
    ['an unknown reauth reason', { status: 'needs_reauth', reauthReason: 'refresh_token_revoked' }, 'bad', 'Needs reconnect', /refresh_token_revoked/, /reconnect link/],
    ['Lever is failing', { refreshAttemptCount: 3, lastRefreshError: 'server_error' }, 'warn', 'Refreshes failing', /server error; 3 attempts failed in a row/, /Nothing for the customer to do/],
    ['Lever rate limits us', { refreshAttemptCount: 1, lastRefreshError: 'rate_limited' }, 'warn', 'Refreshes failing', /slow down \(429\); 1 attempt failed/, /retry with backoff/],
    ['our client secret is wrong', { refreshAttemptCount: 2, lastRefreshError: 'invalid_client' }, 'warn', 'Refreshes failing', /operator's configuration/, /LEVER_PRODUCTION_CLIENT_ID/],
    ['the grant ends in 10 days', { grantExpiresAt: new Date(NOW + 10 * DAY).toISOString() }, 'warn', 'Grant ends soon', /one year after it was made/, /reconnect link before then/],
    ['disconnected', { status: 'disconnected' }, 'off', 'Disconnected', /tokens were wiped/, /new connection/],
  ] as const)('%s', (_name, over, tone, headline, reason, action) => {
    const e = explainConnection({ ...base, ...over }, NOW);
    expect(e.tone).toBe(tone);
    expect(e.headline).toBe(headline);
    expect(e.reason).toMatch(reason);
    expect(e.action).toMatch(action);
  });
});

describe('timeline events in plain words', () => {
  it.each([
    ['connection.created', undefined, 'Connected', 'ok'],
    ['connection.reauthorized', undefined, 'Reconnected', 'ok'],
    ['connection.refreshed', undefined, 'Refreshed', 'ok'],
    ['connection.refresh_failed', 'timeout', 'Refresh failed', 'warn'],
    ['connection.refresh_failing', 'server_error', 'Failing for a while', 'warn'],
    ['connection.recovered', undefined, 'Recovered', 'ok'],
    ['connection.needs_reauth', 'invalid_grant', 'Needs reconnect', 'bad'],
    ['connection.expiring', 'grant_expires_at:2026-03-10T00:00:00.000Z', 'Expiring', 'warn'],
    ['connection.deleted', undefined, 'Disconnected', 'off'],
  ])('%s', (type, reason, title, tone) => {
    const d = describeEvent({ type, data: { connection: reason ? { reason } : {} } });
    expect(d.title).toBe(title);
    expect(d.tone).toBe(tone);
    expect(d.detail.length).toBeGreaterThan(0);
  });

  it('says when an expiring grant ends, and why a refresh failed', () => {
    expect(describeEvent({ type: 'connection.expiring', data: { connection: { reason: 'grant_expires_at:2026-03-10T00:00:00.000Z' } } }).detail).toContain('10 Mar 2026');
    expect(describeEvent({ type: 'connection.refresh_failed', data: { connection: { reason: 'timeout' } } }).detail).toMatch(/did not answer in time.*grant is kept/);
  });
});

describe('webhook deliveries in plain words', () => {
  it.each([
    [{ status: 'succeeded', attempts: 1, responseStatus: 200, lastError: null, nextAttemptAt: null }, 'Delivered (200) after 1 attempt.'],
    [{ status: 'failed', attempts: 9, responseStatus: 500, lastError: null, nextAttemptAt: null }, 'Gave up after 9 attempts: the endpoint answered 500.'],
    [{ status: 'pending', attempts: 0, responseStatus: null, lastError: null, nextAttemptAt: null }, 'Waiting for its first attempt.'],
  ])('%j', (delivery, words) => {
    expect(describeDelivery(delivery)).toBe(words);
  });
});

describe('which pages a key may open', () => {
  const admin = { apiKeyId: 'a', apiKeyPrefix: 'lc_a', tenantExternalId: null, admin: true };
  const tenant = { apiKeyId: 't', apiKeyPrefix: 'lc_t', tenantExternalId: 'acme', admin: false };
  it('shows webhook endpoints and API keys to admin keys only', () => {
    for (const page of ['overview', 'connections', 'connection'] as const) expect([canSee(page, admin), canSee(page, tenant)]).toEqual([true, true]);
    for (const page of ['webhooks', 'api-keys'] as const) expect([canSee(page, admin), canSee(page, tenant)]).toEqual([true, false]);
  });
});
