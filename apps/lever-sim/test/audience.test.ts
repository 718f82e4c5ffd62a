import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootSim, claimsOf, PRODUCTION, SANDBOX, type TestSim } from './helpers.js';

const SIGNING_KEY_ERROR = { code: 'UNAUTHORIZED', message: 'Unable to find a signing key that matches' };

describe('audiences in production mode (default)', () => {
  let sim: TestSim;
  beforeAll(async () => {
    sim = await bootSim();
  });
  afterAll(() => sim.close());

  it('issues a token without audience for <issuer>userinfo, refused by both APIs (the production trap)', async () => {
    const { accessToken, body } = await sim.connect({ audience: undefined });
    expect(claimsOf(accessToken).aud).toBe(`${sim.url}/userinfo`);
    // Without audience Lever grants only offline_access: no API scope.
    expect(body.scope).toBe('offline_access');
    for (const path of ['/v1/users', '/sandbox/v1/users']) {
      const res = await sim.api(path, accessToken);
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual(SIGNING_KEY_ERROR);
    }
  });

  it('refuses a sandbox token at /v1 and accepts it at /sandbox/v1', async () => {
    const { accessToken } = await sim.connect({ audience: SANDBOX });
    const production = await sim.api('/v1/users', accessToken);
    expect(production.status).toBe(401);
    expect(await production.json()).toEqual(SIGNING_KEY_ERROR);
    expect((await sim.api('/sandbox/v1/users', accessToken)).status).toBe(200);
  });

  it('refuses a production token at /sandbox/v1 and accepts it at /v1', async () => {
    const { accessToken } = await sim.connect({ audience: PRODUCTION });
    expect((await sim.api('/sandbox/v1/users', accessToken)).status).toBe(401);
    expect((await sim.api('/v1/users', accessToken)).status).toBe(200);
  });

  it('keeps the audience across refreshes', async () => {
    const { refreshToken } = await sim.connect({ audience: SANDBOX });
    const res = await sim.refresh(refreshToken);
    expect(claimsOf(res.body.access_token!).aud).toBe(SANDBOX);
  });
});

describe('audiences in sandbox mode', () => {
  it('defaults a missing audience to the sandbox audience', async () => {
    const sim = await bootSim({ mode: 'sandbox' });
    try {
      const { accessToken, body } = await sim.connect({ audience: undefined });
      expect(claimsOf(accessToken).aud).toBe(SANDBOX);
      expect(body.scope).toContain('opportunities:read:admin');
      expect((await sim.api('/sandbox/v1/users', accessToken)).status).toBe(200);
      expect((await sim.api('/v1/users', accessToken)).status).toBe(401);
    } finally {
      await sim.close();
    }
  });
});

describe('accepted audiences override', () => {
  it('answers Service not found for an audience outside the configured set', async () => {
    const sim = await bootSim({ audiences: [PRODUCTION] });
    try {
      const res = await sim.authorize({ audience: SANDBOX });
      const url = new URL(res.headers.get('location')!);
      expect(url.searchParams.get('error')).toBe('access_denied');
      expect(url.searchParams.get('error_description')).toBe(`Service not found: ${SANDBOX}`);
      expect((await sim.authorize({ audience: PRODUCTION, sim_auto_approve: '1' })).status).toBe(302);
    } finally {
      await sim.close();
    }
  });
});
