import { jwtVerify } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bootSim, claimsOf, DEV, pkcePair, PRODUCTION, REDIRECT_URI, type TestSim } from './helpers.js';

const INVALID_CODE = { error: 'invalid_grant', error_description: 'Invalid authorization code' };
const SECRET = 'test-signing-secret-test-signing-secret-test-signing-secret-1234';

describe('POST /oauth/token, grant_type=authorization_code', () => {
  let sim: TestSim;
  beforeAll(async () => {
    sim = await bootSim({ signingSecret: SECRET });
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.control('POST', '/reset'));

  it('returns Lever\'s token response with a refresh token when offline_access was granted', async () => {
    const res = await sim.exchange(await sim.code());
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      access_token: expect.any(String),
      refresh_token: expect.any(String),
      token_type: 'Bearer',
      scope: 'offline_access opportunities:read:admin users:read:admin',
      expires_in: 3600,
    });
    expect((await sim.stats()).codeExchanges).toBe(1);
  });

  it('issues an HS512 JWT carrying Lever\'s claims', async () => {
    const { accessToken } = await sim.connect({ sim_account: 'acct_claims' });
    const { payload, protectedHeader } = await jwtVerify(accessToken, new TextEncoder().encode(SECRET), { audience: PRODUCTION });
    expect(protectedHeader.alg).toBe('HS512');
    expect(payload).toMatchObject({
      'https://oauth.lever.co/accountId': 'acct_claims',
      'https://oauth.lever.co/userId': 'user_acct_claims_admin',
      'https://oauth.lever.co/clientId': DEV.clientId,
      iss: `${sim.url}/`,
      aud: PRODUCTION,
      scope: 'offline_access opportunities:read:admin users:read:admin',
    });
    expect(payload.exp! - payload.iat!).toBe(3600);
    expect(payload.jti).toEqual(expect.any(String));
    expect(payload.sub).toEqual(expect.any(String));
  });

  it('issues no refresh token without offline_access', async () => {
    const res = await sim.exchange(await sim.code({ scope: 'opportunities:read:admin' }));
    expect(res.status).toBe(200);
    expect(res.body.refresh_token).toBeUndefined();
  });

  it('accepts a JSON body as well as a form body', async () => {
    const res = await sim.token(
      { grant_type: 'authorization_code', client_id: DEV.clientId, client_secret: DEV.clientSecret, code: await sim.code(), redirect_uri: REDIRECT_URI },
      { json: true },
    );
    expect(res.status).toBe(200);
  });

  it('accepts client credentials in HTTP Basic', async () => {
    const res = await sim.token(
      { grant_type: 'authorization_code', client_id: DEV.clientId, client_secret: DEV.clientSecret, code: await sim.code(), redirect_uri: REDIRECT_URI },
      { basic: true },
    );
    expect(res.status).toBe(200);
  });

  it('answers 401 access_denied for a wrong secret or an unknown client', async () => {
    const code = await sim.code();
    for (const creds of [{ client_secret: 'wrong' }, { client_id: 'unknown' }] as Array<Record<string, string>>) {
      const res = await sim.exchange(code, creds);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: 'access_denied', error_description: 'Unauthorized' });
    }
    // The code was not burnt by unauthenticated attempts.
    expect((await sim.exchange(code)).status).toBe(200);
  });

  it('answers 400 for a missing grant_type or code and for an unsupported grant type', async () => {
    expect((await sim.token({ client_id: DEV.clientId, client_secret: DEV.clientSecret })).body.error).toBe('invalid_request');
    const noCode = await sim.token({ grant_type: 'authorization_code', client_id: DEV.clientId, client_secret: DEV.clientSecret });
    expect(noCode).toEqual({ status: 400, body: expect.objectContaining({ error: 'invalid_request' }) });
    const other = await sim.token({ grant_type: 'client_credentials', client_id: DEV.clientId, client_secret: DEV.clientSecret });
    expect(other).toEqual({ status: 400, body: expect.objectContaining({ error: 'unsupported_grant_type' }) });
  });

  it('refuses an unknown code with 403 invalid_grant', async () => {
    const res = await sim.exchange('not-a-code');
    expect(res).toEqual({ status: 403, body: INVALID_CODE });
  });

  it('lets a code be used once; a second exchange fails and revokes the grant issued from it', async () => {
    const code = await sim.code();
    const first = await sim.exchange(code);
    expect(first.status).toBe(200);
    expect((await sim.introspect(first.body.access_token!)).active).toBe(true);

    const second = await sim.exchange(code);
    expect(second).toEqual({ status: 403, body: INVALID_CODE });
    expect((await sim.introspect(first.body.access_token!)).active).toBe(false);
    expect((await sim.refresh(first.body.refresh_token!)).body.error).toBe('invalid_grant');
    const [grant] = await sim.grants();
    expect(grant).toMatchObject({ status: 'revoked', revokedReason: 'code_reuse' });
    expect((await sim.stats()).grantsRevoked).toBe(1);
  });

  it('expires a code after 10 minutes of sim time', async () => {
    const code = await sim.code();
    await sim.advance(10 * 60 + 1);
    expect(await sim.exchange(code)).toEqual({ status: 403, body: INVALID_CODE });
    expect((await sim.stats()).rejectedCodeExpired).toBe(1);
  });

  it('still accepts a code 9 minutes old', async () => {
    const code = await sim.code();
    await sim.advance(9 * 60);
    expect((await sim.exchange(code)).status).toBe(200);
  });

  it('refuses a redirect_uri different from the one at /authorize', async () => {
    const res = await sim.exchange(await sim.code(), { redirect_uri: 'http://localhost:5173/other' });
    expect(res.status).toBe(403);
    expect(res.body.error).toBe('invalid_grant');
  });

  it('binds the code to the client that asked for it', async () => {
    const other = await bootSim({ clients: [{ clientId: 'other', clientSecret: 'other-secret', name: 'Other', redirectUris: [REDIRECT_URI] }] });
    try {
      const code = await other.code({ client_id: 'other' });
      const res = await other.exchange(code, { client_id: 'other', client_secret: 'other-secret' });
      expect(res.status).toBe(200);
      const stolen = await other.code({ client_id: 'other' });
      const wrongClient = await other.exchange(stolen);
      expect(wrongClient).toEqual({ status: 403, body: INVALID_CODE });
    } finally {
      await other.close();
    }
  });

  it('enforces PKCE: the S256 of the verifier must equal the challenge', async () => {
    const pkce = pkcePair();
    const wrong = await sim.exchange(await sim.code({ code_challenge: pkce.challenge, code_challenge_method: 'S256' }), {
      code_verifier: pkcePair().verifier,
    });
    expect(wrong.status).toBe(403);
    expect(wrong.body.error).toBe('invalid_grant');

    const missing = await sim.exchange(await sim.code({ code_challenge: pkce.challenge, code_challenge_method: 'S256' }));
    expect(missing.status).toBe(403);

    const right = await sim.exchange(await sim.code({ code_challenge: pkce.challenge, code_challenge_method: 'S256' }), {
      code_verifier: pkce.verifier,
    });
    expect(right.status).toBe(200);
    expect((await sim.stats()).rejectedPkceFailed).toBe(2);
  });

  it('creates one grant per completed authorization, each with its own refresh-token family', async () => {
    const a = await sim.connect();
    const b = await sim.connect();
    const grants = await sim.grants();
    expect(grants).toHaveLength(2);
    expect(grants.every((g) => g.status === 'active' && g.account === 'acct_default')).toBe(true);
    expect((await sim.introspect(a.accessToken)).grantId).not.toBe((await sim.introspect(b.accessToken)).grantId);
    expect(claimsOf(a.accessToken).jti).not.toBe(claimsOf(b.accessToken).jti);
  });
});
