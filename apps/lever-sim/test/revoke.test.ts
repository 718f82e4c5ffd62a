import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bootSim, DEV, type TestSim } from './helpers.js';

const INVALID_REFRESH = { error: 'invalid_grant', error_description: 'Unknown or invalid refresh token.' };
const OTHER = { clientId: 'other-app', clientSecret: 'other-secret', name: 'Other app', redirectUris: ['http://localhost:5173/oauth/callback'] };

describe('POST /oauth/revoke (Auth0, best effort at Lever)', () => {
  let sim: TestSim;
  beforeAll(async () => {
    sim = await bootSim({ clients: [OTHER] });
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.control('POST', '/reset'));

  const credentials = { client_id: DEV.clientId, client_secret: DEV.clientSecret };

  it('revokes the whole grant of a refresh token and answers 200 with an empty body', async () => {
    const { refreshToken, accessToken } = await sim.connect();
    const bystander = await sim.connect();
    expect(await sim.revoke({ ...credentials, token: refreshToken })).toEqual({ status: 200, text: '' });
    expect(await sim.refresh(refreshToken)).toEqual({ status: 403, body: INVALID_REFRESH });
    expect((await sim.api('/v1/users', accessToken)).status).toBe(401);
    expect((await sim.grants())[0]).toMatchObject({ status: 'revoked', revokedReason: 'client_revoked' });
    expect((await sim.refresh(bystander.refreshToken)).status).toBe(200);
    expect(await sim.stats()).toMatchObject({ revocations: 1, grantsRevoked: 1, liveGrants: 1, refreshTokenReuse: 0 });
  });

  it('revokes the grant from an already rotated refresh token too, without calling it reuse', async () => {
    const { refreshToken } = await sim.connect();
    const newest = (await sim.refresh(refreshToken)).body.refresh_token!;
    expect((await sim.revoke({ ...credentials, token: refreshToken })).status).toBe(200);
    expect((await sim.refresh(newest)).status).toBe(403);
    expect(await sim.stats()).toMatchObject({ revocations: 1, grantsRevoked: 1, refreshTokenReuse: 0 });
  });

  it('accepts a JSON body and client credentials as HTTP Basic', async () => {
    const first = await sim.connect();
    const second = await sim.connect();
    expect((await sim.revoke({ ...credentials, token: first.refreshToken }, { json: true })).status).toBe(200);
    expect((await sim.revoke({ ...credentials, token: second.refreshToken }, { basic: true })).status).toBe(200);
    expect((await sim.grants()).map((g) => g.status)).toEqual(['revoked', 'revoked']);
  });

  it('answers 200 for an unknown token and for a token already revoked (RFC 7009), revoking nothing more', async () => {
    const { refreshToken, accessToken } = await sim.connect();
    expect(await sim.revoke({ ...credentials, token: 'made-up-token' })).toEqual({ status: 200, text: '' });
    expect(await sim.revoke({ ...credentials, token: accessToken })).toEqual({ status: 200, text: '' });
    expect((await sim.refresh(refreshToken)).status).toBe(200);
    await sim.revoke({ ...credentials, token: refreshToken });
    expect((await sim.revoke({ ...credentials, token: refreshToken })).status).toBe(200);
    expect(await sim.stats()).toMatchObject({ revocations: 4, grantsRevoked: 1 });
  });

  it("does not let a client revoke another client's grant", async () => {
    const { refreshToken } = await sim.connect();
    const res = await sim.revoke({ client_id: OTHER.clientId, client_secret: OTHER.clientSecret, token: refreshToken });
    expect(res.status).toBe(200);
    expect((await sim.grants())[0]!.status).toBe('active');
    expect((await sim.refresh(refreshToken)).status).toBe(200);
  });

  it('answers 401 access_denied for a wrong client secret or an unknown client, as the token endpoint does', async () => {
    const { refreshToken } = await sim.connect();
    for (const wrong of [
      { client_id: DEV.clientId, client_secret: 'nope' },
      { client_id: 'nobody', client_secret: 'x' },
    ]) {
      const res = await sim.revoke({ ...wrong, token: refreshToken });
      expect(res.status).toBe(401);
      expect(JSON.parse(res.text)).toEqual({ error: 'access_denied', error_description: 'Unauthorized' });
    }
    const basic = await sim.revoke({ client_id: DEV.clientId, client_secret: 'nope', token: refreshToken }, { basic: true });
    expect(basic.status).toBe(401);
    const token = await sim.token({ grant_type: 'refresh_token', client_id: DEV.clientId, client_secret: 'nope', refresh_token: refreshToken });
    expect({ status: token.status, body: token.body }).toEqual({ status: 401, body: JSON.parse(basic.text) });
    expect((await sim.grants())[0]!.status).toBe('active');
    expect(await sim.stats()).toMatchObject({ revocations: 0, rejectedRevokeInvalidClient: 3 });
  });

  it('answers 400 invalid_request without a token', async () => {
    const res = await sim.revoke(credentials);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toMatchObject({ error: 'invalid_request' });
    expect((await sim.stats()).rejectedRevokeInvalidRequest).toBe(1);
  });
});
