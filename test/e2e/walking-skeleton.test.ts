import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@lever-connect/testing';
import { connectLever } from '../support/connect-flow.js';
import { startStack, type Stack } from '../support/stack.js';

/**
 * The whole path once, over real HTTP, Postgres and Redis: Connect Lever → tokens stored → the worker
 * refreshes on its own (30 s access tokens at the simulator) → the token endpoint's token works at Lever.
 */
describe('walking skeleton: connect, refresh by itself, hand out a working token', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ simEnv: { SIM_ACCESS_TOKEN_TTL: '30' } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('connects, refreshes at least twice without help, and serves a token the simulator accepts', async () => {
    const outcome = await connectLever({ apiUrl: stack.api.url, apiKey: stack.adminKey, tenant: 'acme' });
    expect(outcome.authorizeUrl.searchParams.get('audience')).toBe('https://api.lever.co/v1/');
    expect(outcome.authorizeUrl.searchParams.get('scope')?.split(' ')).toContain('offline_access');
    expect(outcome.authorizeUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(outcome.callbackStatus).toBe(200);
    expect(outcome.result.status).toBe('success');
    const connectionId = outcome.result.connectionId!;

    const auth = { authorization: `Bearer ${stack.adminKey}` };
    const list = await fetch(`${stack.api.url}/v1/connections?tenant=acme`, { headers: auth });
    expect(list.status).toBe(200);
    const listed = (await list.json()) as { data: Array<{ id: string; status: string }> };
    expect(listed.data).toEqual([expect.objectContaining({ id: connectionId, status: 'active' })]);
    expect(JSON.stringify(listed)).not.toMatch(/eyJ/); // no JWT anywhere in the listing

    // 30 s tokens: the lead is capped at 10 s, so refreshes happen around t≈20 s and t≈40 s.
    await waitFor(
      'two refreshes by the worker',
      async () => {
        const stats = (await (await fetch(`${stack.sim.url}/__sim/stats`)).json()) as { refreshesOk: number };
        return stats.refreshesOk >= 2;
      },
      { timeoutMs: 75_000, intervalMs: 500 },
    );

    const tokenRes = await fetch(`${stack.api.url}/v1/connections/${connectionId}/access-token`, { headers: auth });
    expect(tokenRes.status).toBe(200);
    const token = (await tokenRes.json()) as { accessToken: string; apiBaseUrl: string; expiresAt: string };
    expect(token.apiBaseUrl).toBe(`${stack.sim.url}/v1`);
    expect(Date.parse(token.expiresAt)).toBeGreaterThan(Date.now());

    const users = await fetch(`${token.apiBaseUrl}/users`, { headers: { authorization: `Bearer ${token.accessToken}` } });
    expect(users.status).toBe(200);

    const stats = (await (await fetch(`${stack.sim.url}/__sim/stats`)).json()) as Record<string, number>;
    expect(stats.refreshTokenReuse).toBe(0);
    expect(stats.grantsRevoked).toBe(0);
  });
});
