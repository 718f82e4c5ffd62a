import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildSim } from '../src/index.js';
import { bootSim, DAY, type TestSim } from './helpers.js';

/** Every key /__sim/stats has, as documented in the README; `rejected*` are the reasons a request was refused. */
const ZERO_STATS = Object.fromEntries(
  [
    'tokenRequests',
    'authorizations',
    'codeExchanges',
    'refreshesOk',
    'refreshesRejected',
    'refreshTokenReuse',
    'rotationsDelivered',
    'rotationsUndelivered',
    'grantsRevoked',
    'revocations',
    'apiCalls',
    'rateLimited',
    'faultsInjected',
    'webhookDeliveries',
    'webhookDeliveriesOk',
    'webhookDeliveriesFailed',
    'webhookDeliveriesGivenUp',
    'webhooksDisabled',
    'webhooksCreated',
    'webhooksDeleted',
    'liveGrants',
    'rejectedInvalidRequest',
    'rejectedUnsupportedGrantType',
    'rejectedInvalidClient',
    'rejectedFaultInvalidGrant',
    'rejectedUnknownRefreshToken',
    'rejectedClientMismatch',
    'rejectedGrantRevoked',
    'rejectedRefreshTokenReuse',
    'rejectedRefreshTokenExpired',
    'rejectedRefreshTokenIdleExpired',
    'rejectedInvalidCode',
    'rejectedCodeReuse',
    'rejectedCodeExpired',
    'rejectedRedirectUriMismatch',
    'rejectedPkceFailed',
    'rejectedRevokeInvalidRequest',
    'rejectedRevokeInvalidClient',
    'rejectedApiMissing',
    'rejectedApiMalformed',
    'rejectedApiExpired',
    'rejectedApiWrongAudience',
    'rejectedApiUnknown',
    'rejectedApiRevoked',
    'rejectedApiFaultInvalidGrant',
  ].map((name) => [name, 0]),
) as Record<string, number>;

describe('control plane (/__sim)', () => {
  let sim: TestSim;
  beforeAll(async () => {
    sim = await bootSim();
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.control('POST', '/reset'));

  it('lists grants with account, client, status and refresh count', async () => {
    const { refreshToken } = await sim.connect({ sim_account: 'acct_listed' });
    await sim.refresh(refreshToken);
    const grants = await sim.grants();
    expect(grants).toEqual([
      expect.objectContaining({
        id: expect.any(String),
        account: 'acct_listed',
        clientId: 'lever-connect-dev',
        status: 'active',
        createdAt: expect.any(String),
        refreshCount: 1,
      }),
    ]);
    expect(grants[0]!.revokedReason).toBeUndefined();
  });

  it('revokes a grant like a customer uninstalling the app: refresh and API both refuse', async () => {
    const { refreshToken, accessToken } = await sim.connect();
    const [grant] = await sim.grants();
    const revoked = await sim.control('POST', `/grants/${grant!.id}/revoke`);
    expect(revoked).toMatchObject({ status: 'revoked', revokedReason: 'customer_uninstalled' });
    expect(await sim.refresh(refreshToken)).toMatchObject({ status: 403, body: { error: 'invalid_grant' } });
    expect((await sim.api('/v1/users', accessToken)).status).toBe(401);
    const stats = await sim.stats();
    expect(stats.grantsRevoked).toBe(1);
    expect(stats.liveGrants).toBe(0);
    expect(stats.refreshTokenReuse).toBe(0);
  });

  it('answers 404 for revoking an unknown grant', async () => {
    const res = await fetch(`${sim.url}/__sim/grants/nope/revoke`, { method: 'POST' });
    expect(res.status).toBe(404);
  });

  it('serves /__sim/stats as one flat object of numbers, every counter present from the start', async () => {
    const stats = await sim.stats();
    expect(Object.keys(stats).sort()).toEqual(Object.keys(ZERO_STATS).sort());
    for (const [name, value] of Object.entries(stats)) expect(typeof value, name).toBe('number');
    expect(stats).toEqual(ZERO_STATS);
  });

  it('counts what happened since the last reset', async () => {
    const { refreshToken, accessToken } = await sim.connect();
    const rotated = await sim.refresh(refreshToken);
    await sim.refresh(refreshToken); // reuse
    await sim.api('/v1/users', accessToken);
    expect(rotated.status).toBe(200);
    expect(await sim.stats()).toEqual({
      ...ZERO_STATS,
      tokenRequests: 3,
      authorizations: 1,
      codeExchanges: 1,
      refreshesOk: 1,
      refreshesRejected: 1,
      refreshTokenReuse: 1,
      rotationsDelivered: 2, // the code exchange and the refresh
      grantsRevoked: 1,
      liveGrants: 0,
      apiCalls: 1,
      rejectedRefreshTokenReuse: 1,
      rejectedApiRevoked: 1,
    });
  });

  it('counts as liveGrants only grants a refresh could still extend', async () => {
    let kept = (await sim.connect()).refreshToken;
    await sim.connect({ scope: 'opportunities:read:admin' }); // no offline_access: no refresh token
    await sim.connect(); // goes idle
    await sim.connect(); // revoked below
    const revoked = (await sim.grants())[3]!;
    await sim.control('POST', `/grants/${revoked.id}/revoke`);
    expect((await sim.stats()).liveGrants).toBe(2);

    for (let day = 80; day <= 320; day += 80) {
      await sim.advance(80 * DAY);
      const res = await sim.refresh(kept);
      expect(res.status, `refresh on day ${day}`).toBe(200);
      kept = res.body.refresh_token!;
      // From day 160 the idle grant is past its 90 days, though nobody presented its token since.
      expect((await sim.stats()).liveGrants, `day ${day}`).toBe(day < 90 ? 2 : 1);
    }
    await sim.advance(46 * DAY); // day 366: past the absolute year, only 46 days idle
    expect((await sim.stats()).liveGrants).toBe(0);
    await sim.connect();
    expect((await sim.stats()).liveGrants).toBe(1);
    // None of this was a revocation: the grants simply cannot be refreshed any more.
    expect((await sim.stats()).grantsRevoked).toBe(1);
  });

  describe('GET /__sim/secrets', () => {
    it('lists every access token, refresh token and code issued since the last reset', async () => {
      await sim.control('POST', '/config', { reuseLeewaySeconds: 30 });
      try {
        const unused = await sim.code();
        const code = await sim.code();
        const first = await sim.exchange(code);
        const rotated = await sim.refresh(first.body.refresh_token!);
        const replay = await sim.refresh(first.body.refresh_token!); // a leeway replay: a new access token, no new refresh token
        expect(await sim.secrets()).toEqual({
          accessTokens: [first.body.access_token, rotated.body.access_token, replay.body.access_token],
          refreshTokens: [first.body.refresh_token, rotated.body.refresh_token],
          codes: [unused, code],
        });
        await sim.control('POST', '/reset');
        expect(await sim.secrets()).toEqual({ accessTokens: [], refreshTokens: [], codes: [] });
      } finally {
        await sim.control('POST', '/config', { reuseLeewaySeconds: 0 });
      }
    });

    it('keeps at most secretsLimit of each kind, dropping the oldest, and says how many it dropped', async () => {
      const small = await bootSim({ secretsLimit: 2 });
      try {
        const connections = [await small.connect(), await small.connect(), await small.connect()];
        const res = await fetch(`${small.url}/__sim/secrets`);
        expect(res.headers.get('x-sim-secrets-dropped')).toBe('3');
        const secrets = (await res.json()) as { accessTokens: string[]; refreshTokens: string[]; codes: string[] };
        expect(secrets.accessTokens).toEqual(connections.slice(1).map((c) => c.accessToken));
        expect(secrets.refreshTokens).toEqual(connections.slice(1).map((c) => c.refreshToken));
        expect(secrets.codes).toHaveLength(2);
      } finally {
        await small.close();
      }
    });
  });

  it('reset clears state and counters but keeps the configuration', async () => {
    await sim.control('POST', '/config', { accessTokenTtlSeconds: 120 });
    try {
      const { accessToken } = await sim.connect();
      await sim.advance(DAY);
      await sim.control('POST', '/reset');
      expect(await sim.grants()).toEqual([]);
      expect((await sim.stats()).codeExchanges).toBe(0);
      expect((await sim.introspect(accessToken)).active).toBe(false);
      expect((await sim.control<{ offsetSeconds: number }>('GET', '/clock')).offsetSeconds).toBe(0);
      expect((await sim.connect()).body.expires_in).toBe(120);
    } finally {
      await sim.control('POST', '/config', { accessTokenTtlSeconds: 3600 });
    }
  });

  it('reads and changes the runtime configuration', async () => {
    const before = await sim.control('GET', '/config');
    expect(before).toMatchObject({ accessTokenTtlSeconds: 3600, reuseLeewaySeconds: 0, mode: 'production', latencyMs: 0, autoApprove: false });
    const after = await sim.control('POST', '/config', { accessTokenTtlSeconds: 30, mode: 'sandbox' });
    try {
      expect(after).toMatchObject({ accessTokenTtlSeconds: 30, mode: 'sandbox' });
      expect((await sim.connect({ audience: undefined })).body.expires_in).toBe(30);
    } finally {
      await sim.control('POST', '/config', { accessTokenTtlSeconds: 3600, mode: 'production' });
    }
    const bad = await fetch(`${sim.url}/__sim/config`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ mode: 'staging' }),
    });
    expect(bad.status).toBe(400);
  });

  it('adds latency to token and API requests when latencyMs is set', async () => {
    const { accessToken } = await sim.connect();
    await sim.control('POST', '/config', { latencyMs: 150 });
    try {
      const started = Date.now();
      expect((await sim.api('/v1/users', accessToken)).status).toBe(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    } finally {
      await sim.control('POST', '/config', { latencyMs: 0 });
    }
  });

  it('moves the clock forward only', async () => {
    const before = Date.parse((await sim.control<{ now: string }>('GET', '/clock')).now);
    const after = await sim.advance(3600);
    expect(Date.parse(after.now as string) - before).toBeGreaterThanOrEqual(3600_000);
    const back = await fetch(`${sim.url}/__sim/clock`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ advanceSeconds: -10 }),
    });
    expect(back.status).toBe(400);
  });

  it('introspects access tokens', async () => {
    const { accessToken } = await sim.connect({ sim_account: 'acct_intro' });
    const [grant] = await sim.grants();
    expect(await sim.introspect(accessToken)).toMatchObject({ active: true, account: 'acct_intro', grantId: grant!.id });
    expect(await sim.introspect('garbage')).toMatchObject({ active: false });
  });
});

describe('control plane switched off', () => {
  it('is not served', async () => {
    const app = buildSim({ control: false, logLevel: 'silent' });
    try {
      const res = await app.inject({ method: 'GET', url: '/__sim/stats' });
      expect(res.statusCode).toBe(404);
      expect((await app.inject({ method: 'GET', url: '/__sim/secrets' })).statusCode).toBe(404);
      expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });
});

describe('two sims in one process', () => {
  it('share no state', async () => {
    const other = await bootSim();
    try {
      const { accessToken } = await other.connect();
      expect((await other.introspect(accessToken)).active).toBe(true);
      const mine = await bootSim();
      try {
        expect((await mine.introspect(accessToken)).active).toBe(false);
        expect(await mine.grants()).toEqual([]);
      } finally {
        await mine.close();
      }
    } finally {
      await other.close();
    }
  });
});
