import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildSim } from '../src/index.js';
import { bootSim, DEV, PRODUCTION, REDIRECT_URI, waitUntil, type TestSim } from './helpers.js';

/** The rotation census: did Lever's answer with the new refresh token reach the client? */
describe('rotations that reached the client', () => {
  let sim: TestSim;
  beforeAll(async () => {
    sim = await bootSim();
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.control('POST', '/reset'));

  /** The one grant of `account`, once its latest rotation has settled (the answer is written or dropped). */
  async function settledGrant(account: string) {
    await waitUntil(async () => (await sim.grantsOf(account))[0]?.lastRotation?.delivered !== null, `${account}'s rotation to settle`);
    const grants = await sim.grantsOf(account);
    expect(grants).toHaveLength(1);
    return grants[0]!;
  }

  it('marks a normal code exchange and refresh delivered', async () => {
    const { refreshToken } = await sim.connect({ sim_account: 'acct_normal' });
    await sim.connect({ sim_account: 'acct_bystander' });
    expect((await settledGrant('acct_normal')).lastRotation!.delivered).toBe(true);
    const before = await sim.simNow();
    expect((await sim.refresh(refreshToken)).status).toBe(200);
    const grant = await settledGrant('acct_normal');
    expect(grant).toMatchObject({ account: 'acct_normal', rotations: 2, refreshCount: 1, lastRotation: { delivered: true } });
    expect(Date.parse(grant.lastRotation!.at)).toBeGreaterThanOrEqual(before - 1);
    expect(await sim.stats()).toMatchObject({ rotationsDelivered: 3, rotationsUndelivered: 0 });
  });

  it('marks a rotation whose answer a timeout_after_rotation fault dropped as not delivered', async () => {
    const { refreshToken } = await sim.connect({ sim_account: 'acct_dropped' });
    await sim.fault({ target: 'token', kind: 'timeout_after_rotation', matchAccount: 'acct_dropped' });
    await expect(sim.refresh(refreshToken)).rejects.toThrow();
    expect(await settledGrant('acct_dropped')).toMatchObject({ rotations: 2, lastRotation: { delivered: false } });
    expect(await sim.stats()).toMatchObject({ rotationsDelivered: 1, rotationsUndelivered: 1 });
  });

  it('marks a rotation not delivered when the client hung up while the answer was held (slow fault)', async () => {
    const { refreshToken } = await sim.connect({ sim_account: 'acct_impatient' });
    await sim.fault({ target: 'token', kind: 'slow', delayMs: 10_000, matchAccount: 'acct_impatient' });
    await expect(sim.refresh(refreshToken, { signal: AbortSignal.timeout(200) })).rejects.toThrow();
    const grant = await settledGrant('acct_impatient');
    // Lever rotated (the server processed the refresh), but the client never saw the new token.
    expect(grant).toMatchObject({ rotations: 2, refreshCount: 1, lastRotation: { delivered: false } });
    expect((await sim.stats()).rotationsUndelivered).toBe(1);
  });

  it('marks a code exchange whose answer was dropped as not delivered', async () => {
    await sim.fault({ target: 'token', kind: 'timeout_after_rotation', matchAccount: 'acct_lost_code' });
    await expect(sim.exchange(await sim.code({ sim_account: 'acct_lost_code' }))).rejects.toThrow();
    expect(await settledGrant('acct_lost_code')).toMatchObject({ rotations: 1, refreshCount: 0, lastRotation: { delivered: false } });
  });

  it('attributes the reuse that follows a lost answer: the revoked grant says why and that its last rotation never arrived', async () => {
    const { refreshToken } = await sim.connect({ sim_account: 'acct_census' });
    await sim.fault({ target: 'token', kind: 'timeout_after_rotation', matchAccount: 'acct_census' });
    await expect(sim.refresh(refreshToken)).rejects.toThrow();
    expect((await sim.refresh(refreshToken)).status).toBe(403); // the client's retry with the token it still holds
    expect(await settledGrant('acct_census')).toMatchObject({
      status: 'revoked',
      revokedReason: 'refresh_token_reuse',
      rotations: 2,
      lastRotation: { delivered: false },
    });
    expect(await sim.stats()).toMatchObject({ refreshTokenReuse: 1, rotationsUndelivered: 1 });
  });

  it('does not count a leeway replay as a rotation', async () => {
    await sim.control('POST', '/config', { reuseLeewaySeconds: 30 });
    try {
      const { refreshToken } = await sim.connect({ sim_account: 'acct_leeway' });
      await sim.fault({ target: 'token', kind: 'timeout_after_rotation', matchAccount: 'acct_leeway' });
      await expect(sim.refresh(refreshToken)).rejects.toThrow();
      expect((await sim.refresh(refreshToken)).status).toBe(200); // the replay hands out the lost tokens
      expect(await settledGrant('acct_leeway')).toMatchObject({ rotations: 2, lastRotation: { delivered: false } });
    } finally {
      await sim.control('POST', '/config', { reuseLeewaySeconds: 0 });
    }
  });

  it('lists every grant without ?account= and none for an unknown account', async () => {
    await sim.connect({ sim_account: 'acct_one' });
    await sim.connect({ sim_account: 'acct_two' });
    expect((await sim.grants()).map((g) => g.account)).toEqual(['acct_one', 'acct_two']);
    expect(await sim.grantsOf('acct_nobody')).toEqual([]);
  });
});

describe('rotations that reached the client, through app.inject', () => {
  it('marks an injected code exchange delivered', async () => {
    const app = buildSim({ logLevel: 'silent' });
    try {
      const query = new URLSearchParams({
        client_id: DEV.clientId,
        redirect_uri: REDIRECT_URI,
        response_type: 'code',
        scope: 'offline_access',
        audience: PRODUCTION,
        sim_account: 'acct_injected',
        sim_auto_approve: '1',
      });
      const authorized = await app.inject({ method: 'GET', url: `/authorize?${query}` });
      const code = new URL(authorized.headers.location as string).searchParams.get('code')!;
      const exchanged = await app.inject({
        method: 'POST',
        url: '/oauth/token',
        payload: { grant_type: 'authorization_code', client_id: DEV.clientId, client_secret: DEV.clientSecret, code, redirect_uri: REDIRECT_URI },
      });
      expect(exchanged.statusCode).toBe(200);
      const grants = (await app.inject({ method: 'GET', url: '/__sim/grants?account=acct_injected' })).json<Array<{ lastRotation: unknown }>>();
      expect(grants).toEqual([expect.objectContaining({ rotations: 1, lastRotation: { at: expect.any(String), delivered: true } })]);
    } finally {
      await app.close();
    }
  });
});
