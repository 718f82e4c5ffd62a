import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bootSim, DAY, type TestSim } from './helpers.js';

const INVALID_REFRESH = { error: 'invalid_grant', error_description: 'Unknown or invalid refresh token.' };

describe('POST /oauth/token, grant_type=refresh_token', () => {
  let sim: TestSim;
  beforeAll(async () => {
    sim = await bootSim();
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.control('POST', '/reset'));

  describe('rotation', () => {
    it('returns a new access and refresh token; the new refresh token works', async () => {
      const { refreshToken } = await sim.connect();
      const first = await sim.refresh(refreshToken);
      expect(first.status).toBe(200);
      expect(first.body).toEqual({
        access_token: expect.any(String),
        refresh_token: expect.any(String),
        token_type: 'Bearer',
        scope: 'offline_access opportunities:read:admin users:read:admin',
        expires_in: 3600,
      });
      expect(first.body.refresh_token).not.toBe(refreshToken);
      const second = await sim.refresh(first.body.refresh_token!);
      expect(second.status).toBe(200);
      expect((await sim.grants())[0]!.refreshCount).toBe(2);
      expect((await sim.stats()).refreshesOk).toBe(2);
    });

    it('kills the old refresh token at once: presenting it is reuse', async () => {
      const { refreshToken } = await sim.connect();
      expect((await sim.refresh(refreshToken)).status).toBe(200);
      expect(await sim.refresh(refreshToken)).toEqual({ status: 403, body: INVALID_REFRESH });
    });

    it('refuses an unknown refresh token without revoking anything', async () => {
      const { accessToken } = await sim.connect();
      expect(await sim.refresh('made-up-token')).toEqual({ status: 403, body: INVALID_REFRESH });
      expect((await sim.introspect(accessToken)).active).toBe(true);
      const stats = await sim.stats();
      expect(stats.refreshesRejected).toBe(1);
      expect(stats.rejectedUnknownRefreshToken).toBe(1);
      expect(stats.grantsRevoked).toBe(0);
    });

    it('answers 401 for a wrong client secret on refresh', async () => {
      const { refreshToken } = await sim.connect();
      const res = await sim.token({ grant_type: 'refresh_token', client_id: 'lever-connect-dev', client_secret: 'nope', refresh_token: refreshToken });
      expect(res).toEqual({ status: 401, body: { error: 'access_denied', error_description: 'Unauthorized' } });
      expect((await sim.refresh(refreshToken)).status).toBe(200);
    });
  });

  describe('reuse detection', () => {
    it('revokes the whole grant: its access tokens and its newest refresh token stop working', async () => {
      const { refreshToken, accessToken } = await sim.connect();
      const rotated = await sim.refresh(refreshToken);
      const newest = rotated.body.refresh_token!;
      const newestAccess = rotated.body.access_token!;

      expect(await sim.refresh(refreshToken)).toEqual({ status: 403, body: INVALID_REFRESH });

      expect((await sim.introspect(accessToken)).active).toBe(false);
      expect((await sim.introspect(newestAccess)).active).toBe(false);
      expect((await sim.api('/v1/users', newestAccess)).status).toBe(401);
      expect(await sim.refresh(newest)).toEqual({ status: 403, body: INVALID_REFRESH });
      const [grant] = await sim.grants();
      expect(grant).toMatchObject({ status: 'revoked', revokedReason: 'refresh_token_reuse' });
      const stats = await sim.stats();
      expect(stats.refreshTokenReuse).toBe(1);
      expect(stats.grantsRevoked).toBe(1);
      expect(stats.liveGrants).toBe(0);
      expect(stats).toMatchObject({ rejectedRefreshTokenReuse: 1, rejectedGrantRevoked: 1 });
    });

    it('leaves other grants of the same account untouched', async () => {
      const victim = await sim.connect({ sim_account: 'acct_shared' });
      const bystander = await sim.connect({ sim_account: 'acct_shared' });
      await sim.refresh(victim.refreshToken);
      await sim.refresh(victim.refreshToken);
      expect((await sim.introspect(bystander.accessToken)).active).toBe(true);
      expect((await sim.refresh(bystander.refreshToken)).status).toBe(200);
      expect((await sim.stats()).liveGrants).toBe(1);
    });

    it('lets exactly one of 10 simultaneous refreshes with one token win, and revokes the grant', async () => {
      const { refreshToken } = await sim.connect();
      const results = await Promise.all(Array.from({ length: 10 }, () => sim.refresh(refreshToken)));
      const winners = results.filter((r) => r.status === 200);
      expect(winners).toHaveLength(1);
      expect(results.filter((r) => r.status === 403)).toHaveLength(9);
      const stats = await sim.stats();
      expect(stats.refreshTokenReuse).toBeGreaterThanOrEqual(1);
      expect(stats.refreshesOk).toBe(1);
      expect((await sim.grants())[0]!.status).toBe('revoked');
      // Even the winner's fresh refresh token is dead: that is what two workers racing do to a customer.
      expect((await sim.refresh(winners[0]!.body.refresh_token!)).status).toBe(403);
    });
  });

  describe('lifetimes on the sim clock', () => {
    it('kills a refresh token unused for more than 90 days', async () => {
      const { refreshToken } = await sim.connect();
      await sim.advance(90 * DAY + 60);
      expect(await sim.refresh(refreshToken)).toEqual({ status: 403, body: INVALID_REFRESH });
      expect((await sim.stats()).rejectedRefreshTokenIdleExpired).toBe(1);
    });

    it('keeps a grant alive when refreshed every 80 days, until one year after the authorization', async () => {
      let { refreshToken } = await sim.connect();
      for (let day = 80; day <= 320; day += 80) {
        await sim.advance(80 * DAY);
        const res = await sim.refresh(refreshToken);
        expect(res.status, `refresh on day ${day}`).toBe(200);
        refreshToken = res.body.refresh_token!;
      }
      await sim.advance(46 * DAY); // day 366: past the absolute year, though only 46 days idle
      expect(await sim.refresh(refreshToken)).toEqual({ status: 403, body: INVALID_REFRESH });
      expect((await sim.stats()).rejectedRefreshTokenExpired).toBe(1);
    });

    it('expires access tokens after the configured TTL on the sim clock', async () => {
      const { accessToken } = await sim.connect();
      expect((await sim.api('/v1/users', accessToken)).status).toBe(200);
      await sim.advance(3601);
      const res = await sim.api('/v1/users', accessToken);
      expect(res.status).toBe(401);
      expect((await sim.introspect(accessToken)).active).toBe(false);
    });
  });

  describe('reuse leeway', () => {
    it('with leeway 0 (default) any replay of a rotated token is reuse', async () => {
      const { refreshToken } = await sim.connect();
      await sim.refresh(refreshToken);
      expect((await sim.refresh(refreshToken)).status).toBe(403);
      expect((await sim.stats()).refreshTokenReuse).toBe(1);
    });

    it('within the leeway replays the rotated token once, answering the same refresh token and a fresh access token, without revocation', async () => {
      await sim.control('POST', '/config', { reuseLeewaySeconds: 30 });
      try {
        const { refreshToken } = await sim.connect();
        const first = await sim.refresh(refreshToken);
        await sim.advance(10);
        const replay = await sim.refresh(refreshToken);
        expect(replay.status).toBe(200);
        expect(replay.body.refresh_token).toBe(first.body.refresh_token);
        // A client retrying after a lost answer gets an access token it can use, not the one minted then.
        expect(replay.body.access_token).not.toBe(first.body.access_token);
        expect(replay.body.expires_in).toBe(3600);
        expect((await sim.introspect(replay.body.access_token!)).active).toBe(true);
        // The successor is still the family's live token.
        expect((await sim.refresh(first.body.refresh_token!)).status).toBe(200);
        expect((await sim.stats()).refreshTokenReuse).toBe(0);
        // Only once: the second replay is reuse.
        expect((await sim.refresh(refreshToken)).status).toBe(403);
        expect((await sim.stats()).refreshTokenReuse).toBe(1);
      } finally {
        await sim.control('POST', '/config', { reuseLeewaySeconds: 0 });
      }
    });

    it('refuses a replay inside the leeway once the grant is past its year, without revoking', async () => {
      await sim.control('POST', '/config', { reuseLeewaySeconds: 60 * DAY });
      try {
        let { refreshToken } = await sim.connect();
        for (let day = 80; day <= 320; day += 80) {
          await sim.advance(80 * DAY);
          refreshToken = (await sim.refresh(refreshToken)).body.refresh_token!;
        }
        await sim.advance(20 * DAY); // day 340
        expect((await sim.refresh(refreshToken)).status).toBe(200);
        await sim.advance(30 * DAY); // day 370: 30 days after the rotation, inside the 60-day leeway
        expect(await sim.refresh(refreshToken)).toEqual({ status: 403, body: INVALID_REFRESH });
        const stats = await sim.stats();
        expect(stats.rejectedRefreshTokenExpired).toBe(1);
        expect(stats.refreshTokenReuse).toBe(0);
        expect((await sim.grants())[0]!.status).toBe('active');
      } finally {
        await sim.control('POST', '/config', { reuseLeewaySeconds: 0 });
      }
    });

    it('refuses a replay inside the leeway once 90 days passed since the rotation, without revoking', async () => {
      await sim.control('POST', '/config', { reuseLeewaySeconds: 100 * DAY });
      try {
        const { refreshToken } = await sim.connect();
        expect((await sim.refresh(refreshToken)).status).toBe(200);
        await sim.advance(91 * DAY);
        expect(await sim.refresh(refreshToken)).toEqual({ status: 403, body: INVALID_REFRESH });
        const stats = await sim.stats();
        expect(stats.rejectedRefreshTokenIdleExpired).toBe(1);
        expect(stats.refreshTokenReuse).toBe(0);
      } finally {
        await sim.control('POST', '/config', { reuseLeewaySeconds: 0 });
      }
    });

    it('after the leeway a replay is reuse and revokes the grant', async () => {
      await sim.control('POST', '/config', { reuseLeewaySeconds: 30 });
      try {
        const { refreshToken } = await sim.connect();
        await sim.refresh(refreshToken);
        await sim.advance(31);
        expect((await sim.refresh(refreshToken)).status).toBe(403);
        expect((await sim.grants())[0]!.status).toBe('revoked');
      } finally {
        await sim.control('POST', '/config', { reuseLeewaySeconds: 0 });
      }
    });
  });
});
