import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bootSim, type TestSim } from './helpers.js';

/** fetch rejects (no HTTP answer at all) when the sim destroys the socket. */
async function expectNoAnswer(promise: Promise<unknown>) {
  await expect(promise).rejects.toThrow();
}

describe('faults (/__sim/faults)', () => {
  let sim: TestSim;
  beforeAll(async () => {
    sim = await bootSim();
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.control('POST', '/reset'));

  describe('at the token endpoint', () => {
    for (const status of [503, 500] as const) {
      it(`answers ${status} without processing the refresh`, async () => {
        const { refreshToken } = await sim.connect();
        await sim.fault({ target: 'token', kind: String(status) });
        const res = await sim.refresh(refreshToken);
        expect(res.status).toBe(status);
        expect(res.body.error).toBe('server_error');
        // Nothing rotated: the same token still works and is not reuse.
        expect((await sim.refresh(refreshToken)).status).toBe(200);
        const stats = await sim.stats();
        expect(stats.faultsInjected).toBe(1);
        expect(stats.refreshTokenReuse).toBe(0);
      });
    }

    it('answers 429 with Retry-After: 1', async () => {
      const { refreshToken } = await sim.connect();
      await sim.fault({ target: 'token', kind: '429' });
      const res = await fetch(`${sim.url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', client_id: 'lever-connect-dev', client_secret: 'lever-connect-dev-secret', refresh_token: refreshToken }),
      });
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBe('1');
      expect((await sim.refresh(refreshToken)).status).toBe(200);
    });

    it('timeout: holds the request until the client gives up, and processes nothing', async () => {
      const { refreshToken } = await sim.connect();
      await sim.fault({ target: 'token', kind: 'timeout', delayMs: 10_000 });
      const started = Date.now();
      await expectNoAnswer(sim.refresh(refreshToken, { signal: AbortSignal.timeout(200) }));
      expect(Date.now() - started).toBeLessThan(2_000);
      expect((await sim.refresh(refreshToken)).status).toBe(200);
    });

    it('timeout: destroys the socket after delayMs when the client waits longer', async () => {
      const { refreshToken } = await sim.connect();
      await sim.fault({ target: 'token', kind: 'timeout', delayMs: 100 });
      await expectNoAnswer(sim.refresh(refreshToken));
      expect((await sim.refresh(refreshToken)).status).toBe(200);
    });

    it('reset: drops the connection at once, nothing processed', async () => {
      const { refreshToken } = await sim.connect();
      await sim.fault({ target: 'token', kind: 'reset' });
      await expectNoAnswer(sim.refresh(refreshToken));
      expect((await sim.refresh(refreshToken)).status).toBe(200);
    });

    it('timeout_after_rotation: rotates, then drops the answer; the retry with the old token is reuse', async () => {
      const { refreshToken, accessToken } = await sim.connect();
      await sim.fault({ target: 'token', kind: 'timeout_after_rotation' });
      await expectNoAnswer(sim.refresh(refreshToken));
      expect((await sim.stats()).refreshesOk).toBe(1);
      expect(await sim.refresh(refreshToken)).toMatchObject({ status: 403, body: { error: 'invalid_grant' } });
      expect((await sim.introspect(accessToken)).active).toBe(false);
      expect((await sim.stats()).refreshTokenReuse).toBe(1);
    });

    it('timeout_after_rotation with a reuse leeway: the retry gets the lost tokens', async () => {
      await sim.control('POST', '/config', { reuseLeewaySeconds: 10 });
      try {
        const { refreshToken } = await sim.connect();
        await sim.fault({ target: 'token', kind: 'timeout_after_rotation' });
        await expectNoAnswer(sim.refresh(refreshToken));
        const retry = await sim.refresh(refreshToken);
        expect(retry.status).toBe(200);
        expect((await sim.refresh(retry.body.refresh_token!)).status).toBe(200);
        expect((await sim.stats()).grantsRevoked).toBe(0);
      } finally {
        await sim.control('POST', '/config', { reuseLeewaySeconds: 0 });
      }
    });

    it('invalid_grant: revokes the grant and answers 403 invalid_grant', async () => {
      const { refreshToken, accessToken } = await sim.connect();
      await sim.fault({ target: 'token', kind: 'invalid_grant' });
      expect(await sim.refresh(refreshToken)).toEqual({
        status: 403,
        body: { error: 'invalid_grant', error_description: 'Unknown or invalid refresh token.' },
      });
      expect((await sim.introspect(accessToken)).active).toBe(false);
      expect((await sim.grants())[0]).toMatchObject({ status: 'revoked', revokedReason: 'fault_injected' });
      expect((await sim.refresh(refreshToken)).status).toBe(403);
    });

    it('slow: processes normally and answers after delayMs', async () => {
      const { refreshToken } = await sim.connect();
      await sim.fault({ target: 'token', kind: 'slow', delayMs: 300 });
      const started = Date.now();
      const res = await sim.refresh(refreshToken);
      expect(res.status).toBe(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    });

    it('consumes `count` faults and then answers normally', async () => {
      const { refreshToken } = await sim.connect();
      await sim.fault({ target: 'token', kind: '503', count: 2 });
      expect((await sim.refresh(refreshToken)).status).toBe(503);
      expect((await sim.refresh(refreshToken)).status).toBe(503);
      expect((await sim.refresh(refreshToken)).status).toBe(200);
      expect((await sim.stats()).faultsInjected).toBe(2);
    });

    it('matchAccount restricts a fault to the account behind the refresh token', async () => {
      const other = await sim.connect({ sim_account: 'acct_other' });
      const target = await sim.connect({ sim_account: 'acct_target' });
      await sim.fault({ target: 'token', kind: '503', matchAccount: 'acct_target' });
      expect((await sim.refresh(other.refreshToken)).status).toBe(200);
      expect((await sim.refresh(target.refreshToken)).status).toBe(503);
    });

    it('matchAccount also matches the account behind an authorization code', async () => {
      await sim.fault({ target: 'token', kind: '503', matchAccount: 'acct_target' });
      expect((await sim.exchange(await sim.code({ sim_account: 'acct_other' }))).status).toBe(200);
      expect((await sim.exchange(await sim.code({ sim_account: 'acct_target' }))).status).toBe(503);
    });

    it('DELETE /__sim/faults clears queued faults', async () => {
      const { refreshToken } = await sim.connect();
      await sim.fault({ target: 'token', kind: '503', count: 5 });
      expect(await sim.control('GET', '/faults')).toHaveLength(1);
      await sim.control('DELETE', '/faults');
      expect((await sim.refresh(refreshToken)).status).toBe(200);
    });

    it('rejects an unknown fault kind with 400', async () => {
      const res = await fetch(`${sim.url}/__sim/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ target: 'token', kind: 'explode' }),
      });
      expect(res.status).toBe(400);
    });
  });

  describe('access tokens Lever should not have answered (token target)', () => {
    const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;

    it('unreadable_access_token: the exchange succeeds with an opaque access token; the grant and its refresh token are real', async () => {
      await sim.fault({ target: 'token', kind: 'unreadable_access_token', matchAccount: 'acct_opaque' });
      const res = await sim.exchange(await sim.code({ sim_account: 'acct_opaque' }));
      expect(res.status).toBe(200);
      expect(res.body.access_token!.split('.')).toHaveLength(1);
      expect((await sim.api('/v1/users', res.body.access_token)).status).toBe(401);
      expect(await sim.grantsOf('acct_opaque')).toEqual([expect.objectContaining({ status: 'active' })]);
      expect((await sim.secrets()).accessTokens).toContain(res.body.access_token);
      // The next answer is an ordinary one: the refresh token works and yields a readable token.
      const refreshed = await sim.refresh(res.body.refresh_token!);
      expect(refreshed.status).toBe(200);
      expect(claimsOf(refreshed.body.access_token!)['https://oauth.lever.co/accountId']).toBe('acct_opaque');
      expect((await sim.stats()).faultsInjected).toBe(1);
    });

    it("wrong_audience: the access token is minted for Auth0's userinfo, which Lever's API refuses; the grant keeps its audience", async () => {
      await sim.fault({ target: 'token', kind: 'wrong_audience' });
      const res = await sim.exchange(await sim.code({ sim_account: 'acct_userinfo' }));
      expect(res.status).toBe(200);
      expect(claimsOf(res.body.access_token!)).toMatchObject({ aud: `${sim.url}/userinfo`, 'https://oauth.lever.co/accountId': 'acct_userinfo' });
      expect((await sim.api('/v1/users', res.body.access_token)).status).toBe(401);
      const [grant] = await sim.control<Array<{ audience: string; status: string }>>('GET', '/grants?account=acct_userinfo');
      expect(grant).toMatchObject({ audience: 'https://api.lever.co/v1/', status: 'active' });
    });

    it('refuses them at the API and revoke targets with 400', async () => {
      for (const target of ['api', 'revoke']) {
        for (const kind of ['unreadable_access_token', 'wrong_audience']) {
          const res = await fetch(`${sim.url}/__sim/faults`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ target, kind }),
          });
          expect(res.status, `${target}/${kind}`).toBe(400);
        }
      }
      expect(await sim.control('GET', '/faults')).toEqual([]);
    });
  });

  describe('at the revocation endpoint', () => {
    const credentials = { client_id: 'lever-connect-dev', client_secret: 'lever-connect-dev-secret' };

    it('503 answers without revoking; the next revocation works', async () => {
      const { refreshToken } = await sim.connect();
      await sim.fault({ target: 'revoke', kind: '503' });
      expect((await sim.revoke({ ...credentials, token: refreshToken })).status).toBe(503);
      expect((await sim.grants())[0]!.status).toBe('active');
      expect((await sim.revoke({ ...credentials, token: refreshToken })).status).toBe(200);
      expect((await sim.grants())[0]).toMatchObject({ status: 'revoked', revokedReason: 'client_revoked' });
      expect(await sim.stats()).toMatchObject({ faultsInjected: 1, revocations: 1 });
    });

    it('timeout holds and drops the request without revoking; timeout_after_rotation revokes, then drops the answer', async () => {
      const held = await sim.connect({ sim_account: 'acct_revoke_held' });
      const lost = await sim.connect({ sim_account: 'acct_revoke_lost' });
      await sim.fault({ target: 'revoke', kind: 'timeout', delayMs: 100, matchAccount: 'acct_revoke_held' });
      await sim.fault({ target: 'revoke', kind: 'timeout_after_rotation', matchAccount: 'acct_revoke_lost' });
      await expectNoAnswer(sim.revoke({ ...credentials, token: held.refreshToken }));
      await expectNoAnswer(sim.revoke({ ...credentials, token: lost.refreshToken }));
      expect((await sim.grantsOf('acct_revoke_held'))[0]!.status).toBe('active');
      expect((await sim.grantsOf('acct_revoke_lost'))[0]).toMatchObject({ status: 'revoked', revokedReason: 'client_revoked' });
    });

    it('refuses invalid_grant at the revoke target with 400', async () => {
      const res = await fetch(`${sim.url}/__sim/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ target: 'revoke', kind: 'invalid_grant' }),
      });
      expect(res.status).toBe(400);
    });
  });

  describe('at the API', () => {
    it('503 and 429 (with Retry-After: 1) are answered before anything else', async () => {
      const { accessToken } = await sim.connect();
      await sim.fault({ target: 'api', kind: '503' });
      await sim.fault({ target: 'api', kind: '429' });
      expect((await sim.api('/v1/users', accessToken)).status).toBe(503);
      const limited = await sim.api('/v1/users', accessToken);
      expect(limited.status).toBe(429);
      expect(limited.headers.get('retry-after')).toBe('1');
      expect((await sim.api('/v1/users', accessToken)).status).toBe(200);
    });

    it('reset and timeout drop the connection', async () => {
      const { accessToken } = await sim.connect();
      await sim.fault({ target: 'api', kind: 'reset' });
      await expectNoAnswer(sim.api('/v1/users', accessToken));
      await sim.fault({ target: 'api', kind: 'timeout', delayMs: 50 });
      await expectNoAnswer(sim.api('/v1/users', accessToken));
      await sim.fault({ target: 'api', kind: 'timeout_after_rotation' });
      await expectNoAnswer(sim.api('/v1/users', accessToken));
      expect((await sim.api('/v1/users', accessToken)).status).toBe(200);
    });

    it('invalid_grant revokes the grant behind the token', async () => {
      const { accessToken, refreshToken } = await sim.connect();
      await sim.fault({ target: 'api', kind: 'invalid_grant' });
      expect((await sim.api('/v1/users', accessToken)).status).toBe(401);
      expect((await sim.refresh(refreshToken)).status).toBe(403);
    });

    it('slow answers after delayMs; matchAccount spares other accounts', async () => {
      const spared = await sim.connect({ sim_account: 'acct_spared' });
      const slowed = await sim.connect({ sim_account: 'acct_slowed' });
      await sim.fault({ target: 'api', kind: 'slow', delayMs: 200, matchAccount: 'acct_slowed' });
      let started = Date.now();
      expect((await sim.api('/v1/users', spared.accessToken)).status).toBe(200);
      expect(Date.now() - started).toBeLessThan(200);
      started = Date.now();
      expect((await sim.api('/v1/users', slowed.accessToken)).status).toBe(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(180);
    });
  });

  describe('at the API target, each kind aimed with matchAccount', () => {
    async function twoAccounts() {
      const spared = await sim.connect({ sim_account: 'acct_spared' });
      const target = await sim.connect({ sim_account: 'acct_target' });
      return { spared: spared.accessToken, target: target.accessToken };
    }

    it('429 carries retryAfterSeconds as Retry-After (default 1), only for the matched account', async () => {
      const tokens = await twoAccounts();
      await sim.fault({ target: 'api', kind: '429', retryAfterSeconds: 7, matchAccount: 'acct_target' });
      expect((await sim.api('/v1/users', tokens.spared)).status).toBe(200);
      const limited = await sim.api('/v1/users', tokens.target);
      expect(limited.status).toBe(429);
      expect(limited.headers.get('retry-after')).toBe('7');
      expect(await limited.json()).toEqual({ code: 'TooManyRequests', message: 'Rate limit exceeded' });
      await sim.fault({ target: 'api', kind: '429', matchAccount: 'acct_target' });
      expect((await sim.api('/v1/users', tokens.target)).headers.get('retry-after')).toBe('1');
      expect((await sim.api('/v1/users', tokens.target)).status).toBe(200);
      expect((await sim.apiStats()).accounts).toEqual({ 'production:acct_spared': { '200': 1 }, 'production:acct_target': { '200': 1, '429': 2 } });
      // A fault 429 is not the rate limiter's.
      expect((await sim.stats()).rateLimited).toBe(0);
    });

    it('429_no_retry_after answers 429 without a Retry-After header, only for the matched account', async () => {
      const tokens = await twoAccounts();
      await sim.fault({ target: 'api', kind: '429_no_retry_after', matchAccount: 'acct_target' });
      expect((await sim.api('/v1/users', tokens.spared)).status).toBe(200);
      const limited = await sim.api('/v1/users', tokens.target);
      expect(limited.status).toBe(429);
      expect(limited.headers.get('retry-after')).toBeNull();
      expect((await sim.api('/v1/users', tokens.target)).status).toBe(200);
    });

    it('503 answers at once, only for the matched account', async () => {
      const tokens = await twoAccounts();
      await sim.fault({ target: 'api', kind: '503', matchAccount: 'acct_target' });
      expect((await sim.api('/v1/users', tokens.spared)).status).toBe(200);
      const res = await sim.api('/v1/users', tokens.target);
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ code: 'ServiceUnavailable', message: 'Service unavailable' });
      expect((await sim.api('/v1/users', tokens.target)).status).toBe(200);
    });

    it('slow answers after delayMs, only for the matched account', async () => {
      const tokens = await twoAccounts();
      await sim.fault({ target: 'api', kind: 'slow', delayMs: 250, matchAccount: 'acct_target' });
      let started = Date.now();
      expect((await sim.api('/v1/users', tokens.spared)).status).toBe(200);
      expect(Date.now() - started).toBeLessThan(250);
      started = Date.now();
      expect((await sim.api('/v1/users', tokens.target)).status).toBe(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(230);
    });

    it('timeout holds the request and drops it, only for the matched account, and counts no answer', async () => {
      const tokens = await twoAccounts();
      await sim.fault({ target: 'api', kind: 'timeout', delayMs: 150, matchAccount: 'acct_target' });
      expect((await sim.api('/v1/users', tokens.spared)).status).toBe(200);
      const started = Date.now();
      await expectNoAnswer(sim.api('/v1/users', tokens.target));
      expect(Date.now() - started).toBeGreaterThanOrEqual(130);
      expect((await sim.api('/v1/users', tokens.target)).status).toBe(200);
      expect((await sim.apiStats()).accounts['production:acct_target']).toEqual({ '200': 1 });
      expect((await sim.stats()).faultsInjected).toBe(1);
    });

    it('refuses retryAfterSeconds on a kind other than 429', async () => {
      const res = await fetch(`${sim.url}/__sim/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ target: 'api', kind: '503', retryAfterSeconds: 3 }),
      });
      expect(res.status).toBe(400);
    });
  });

  describe('at the API, when the account is rate-limited', () => {
    let limited: TestSim;
    beforeAll(async () => {
      // One request per 100 s of sim time: real time passing during a test can never refill the bucket.
      limited = await bootSim({ rateLimits: { api: { ratePerSecond: 0.01, burst: 1 } } });
    });
    afterAll(() => limited.close());
    beforeEach(() => limited.control('POST', '/reset'));

    it('slow still applies to the 429 instead of being consumed unapplied', async () => {
      const { accessToken } = await limited.connect();
      expect((await limited.api('/v1/users', accessToken)).status).toBe(200); // empties the bucket
      await limited.fault({ target: 'api', kind: 'slow', delayMs: 200 });
      const started = Date.now();
      const res = await limited.api('/v1/users', accessToken);
      expect(res.status).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(1);
      expect(Date.now() - started).toBeGreaterThanOrEqual(180);
      expect(await limited.control('GET', '/faults')).toEqual([]);
      expect(await limited.stats()).toMatchObject({ faultsInjected: 1, rateLimited: 1 });
    });

    it('timeout_after_rotation drops the 429; the next request gets an ordinary answer', async () => {
      const { accessToken } = await limited.connect();
      expect((await limited.api('/v1/users', accessToken)).status).toBe(200);
      await limited.fault({ target: 'api', kind: 'timeout_after_rotation' });
      await expectNoAnswer(limited.api('/v1/users', accessToken));
      expect((await limited.api('/v1/users', accessToken)).status).toBe(429);
      await limited.advance(100);
      expect((await limited.api('/v1/users', accessToken)).status).toBe(200);
      expect(await limited.stats()).toMatchObject({ faultsInjected: 1, rateLimited: 2 });
    });

    it('an early fault answers before the rate limiter and spends none of the bucket', async () => {
      const { accessToken } = await limited.connect();
      await limited.fault({ target: 'api', kind: '503', count: 3 });
      for (let i = 0; i < 3; i++) expect((await limited.api('/v1/users', accessToken)).status).toBe(503);
      expect((await limited.api('/v1/users', accessToken)).status).toBe(200);
      expect((await limited.stats()).rateLimited).toBe(0);
    });
  });

  it('closing the sim releases requests held by a timeout fault', async () => {
    const own = await bootSim();
    const { refreshToken } = await own.connect();
    await own.fault({ target: 'token', kind: 'timeout', delayMs: 60_000 });
    const held = own.refresh(refreshToken).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    await own.close();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await held).toBeInstanceOf(Error);
  });
});
