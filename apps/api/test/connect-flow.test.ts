import { startSim, type RunningSim } from '@lever-connect/lever-sim';
import { freePort } from '@lever-connect/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, buildTestApp, type TestApp } from './helpers.js';

/**
 * The authorize/callback flow over real HTTP against the simulator, driven the way a browser drives it:
 * follow the redirects by hand and carry the cookies the api sets for the callback.
 */
describe('Connect Lever: the authorize/callback flow', () => {
  let sim: RunningSim;
  let t: TestApp;
  let base: string;

  beforeAll(async () => {
    sim = await startSim({ port: 0 });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    t = await buildTestApp({ LEVER_SIMULATOR_URL: sim.url, PUBLIC_BASE_URL: base, CONNECT_ALLOWED_ORIGINS: 'https://app.example.com' });
    await t.app.listen({ port, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await t?.close();
    await sim?.close();
  });

  async function createSession(body: Record<string, unknown>) {
    const res = await fetch(`${base}/v1/connect-sessions`, {
      method: 'POST',
      headers: { ...bearer(t.adminKey), 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(201);
    return (await res.json()) as { token: string; connectUrl: string };
  }

  const cookieHeader = (res: Response) =>
    res.headers
      .getSetCookie()
      .map((c) => c.split(';')[0]!)
      .filter((c) => !c.endsWith('='))
      .join('; ');

  /** GET /connect/:token → Lever's authorize URL (+ the cookies the callback will need). */
  async function start(connectUrl: string, mode: 'popup' | 'redirect' = 'popup') {
    const res = await fetch(`${connectUrl}?mode=${mode}`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    return { authorize: new URL(res.headers.get('location')!), cookies: cookieHeader(res) };
  }

  /** The simulator approves (or denies) and redirects back to our callback. */
  async function consent(authorize: URL, options: { account?: string; deny?: boolean } = {}) {
    const url = new URL(authorize);
    if (options.deny) {
      // Deny through the real consent page: read its pending-request id and post the decision.
      const page = await (await fetch(url)).text();
      const requestId = /name="request_id" value="([^"]+)"/.exec(page)?.[1];
      expect(requestId, 'consent page carries a pending request id').toBeTruthy();
      const res = await fetch(new URL('/authorize/decision', sim.url), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ request_id: requestId!, decision: 'deny' }),
        redirect: 'manual',
      });
      expect(res.status).toBe(302);
      return new URL(res.headers.get('location')!);
    }
    url.searchParams.set('sim_auto_approve', '1');
    if (options.account) url.searchParams.set('sim_account', options.account);
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status).toBe(302);
    return new URL(res.headers.get('location')!);
  }

  async function callback(url: URL, cookies: string, accept = 'text/html') {
    const res = await fetch(url, { redirect: 'manual', headers: { cookie: cookies, accept } });
    return { status: res.status, body: await res.text(), location: res.headers.get('location') };
  }

  async function result(connectUrl: string) {
    return (await (await fetch(`${connectUrl}/result`)).json()) as { status: string; connectionId?: string; error?: string };
  }

  it('connects: state, PKCE S256, audience and offline_access on the way out; an active connection on the way back', async () => {
    const session = await createSession({ tenant: { externalId: 'flow-happy' } });
    const { authorize, cookies } = await start(session.connectUrl);
    expect(authorize.origin + authorize.pathname).toBe(`${sim.url}/authorize`);
    const q = authorize.searchParams;
    expect(q.get('client_id')).toBe('lever-connect-dev');
    expect(q.get('redirect_uri')).toBe(`${base}/oauth/callback`);
    expect(q.get('response_type')).toBe('code');
    expect(q.get('audience')).toBe('https://api.lever.co/v1/');
    expect(q.get('scope')!.split(' ')).toContain('offline_access');
    expect(q.get('code_challenge_method')).toBe('S256');
    expect(q.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(q.get('state')).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    const back = await consent(authorize, { account: 'acct_flow_happy' });
    const cb = await callback(back, cookies);
    expect(cb.status).toBe(200);
    expect(cb.body).toContain('lever-connect:result');
    expect(cb.body).not.toMatch(/eyJ[A-Za-z0-9_-]+\./); // no token in the page
    const outcome = await result(session.connectUrl);
    expect(outcome).toMatchObject({ status: 'success' });
    const connection = await t.db.db.prisma.connection.findUniqueOrThrow({ where: { id: outcome.connectionId! } });
    expect(connection).toMatchObject({ status: 'active', environment: 'production', leverAccountId: 'acct_flow_happy', version: 0 });
    // Tokens are stored encrypted and bound to the row.
    expect(connection.accessTokenCiphertext).toMatch(/^v1\./);
    expect(connection.refreshTokenCiphertext).toMatch(/^v1\./);
    const events = await t.db.db.prisma.event.findMany({ where: { connectionId: connection.id } });
    expect(events.map((e) => e.type)).toEqual(['connection.created']);
    // The PKCE verifier was sent: the simulator enforces it, so the exchange would have failed otherwise.
    const stats = (await (await fetch(`${sim.url}/__sim/stats`)).json()) as { codeExchanges: number };
    expect(stats.codeExchanges).toBeGreaterThanOrEqual(1);
    // The session is spent.
    const again = await fetch(`${session.connectUrl}?mode=popup`, { redirect: 'manual' });
    expect(again.status).toBe(410);
  });

  it('asks for the sandbox audience in the sandbox environment', async () => {
    const session = await createSession({ tenant: { externalId: 'flow-sandbox' }, environment: 'sandbox' });
    const { authorize, cookies } = await start(session.connectUrl);
    expect(authorize.searchParams.get('audience')).toBe('https://api.sandbox.lever.co/v1/');
    const cb = await callback(await consent(authorize, { account: 'acct_flow_sandbox' }), cookies);
    expect(cb.status).toBe(200);
    const outcome = await result(session.connectUrl);
    const grant = await t.core.tokens.getAccessToken(outcome.connectionId!);
    expect(grant.apiBaseUrl).toBe(`${sim.url}/sandbox/v1`);
    const api = await fetch(`${grant.apiBaseUrl}/users`, { headers: { authorization: `Bearer ${grant.accessToken}` } });
    expect(api.status).toBe(200);
  });

  it('reports a denial to the page and keeps the session usable for another try', async () => {
    const session = await createSession({ tenant: { externalId: 'flow-deny' } });
    const { authorize, cookies } = await start(session.connectUrl);
    const back = await consent(authorize, { deny: true });
    expect(back.searchParams.get('error')).toBe('access_denied');
    const cb = await callback(back, cookies);
    expect(cb.status).toBe(200);
    expect(cb.body).toContain('access_denied');
    expect(await result(session.connectUrl)).toMatchObject({ status: 'error', error: 'access_denied' });
    // Try again with the same session: the outcome is pending again, then success.
    const retry = await start(session.connectUrl);
    expect(await result(session.connectUrl)).toMatchObject({ status: 'pending' });
    expect((await callback(await consent(retry.authorize, { account: 'acct_flow_deny' }), retry.cookies)).status).toBe(200);
    expect(await result(session.connectUrl)).toMatchObject({ status: 'success' });
  });

  it('refuses a replayed callback (state is single use) and a state from another session', async () => {
    const a = await createSession({ tenant: { externalId: 'flow-replay' } });
    const flowA = await start(a.connectUrl);
    const backA = await consent(flowA.authorize, { account: 'acct_flow_replay' });
    expect((await callback(backA, flowA.cookies)).status).toBe(200);
    const replay = await callback(backA, flowA.cookies, 'application/json');
    expect(replay.status).toBe(400);
    expect(JSON.parse(replay.body).error.code).toBe('state_invalid');

    // Session B's browser cannot complete with session A's state (bound to A's session and A's cookie).
    const b = await createSession({ tenant: { externalId: 'flow-other' } });
    const flowB = await start(b.connectUrl);
    const a2 = await createSession({ tenant: { externalId: 'flow-replay-2' } });
    const flowA2 = await start(a2.connectUrl);
    const backA2 = await consent(flowA2.authorize, { account: 'acct_flow_other' });
    const crossed = await callback(backA2, flowB.cookies, 'application/json');
    expect(crossed.status).toBe(400);
    expect(JSON.parse(crossed.body).error.code).toBe('state_invalid');
    expect(await result(b.connectUrl)).toMatchObject({ status: 'pending' });
  });

  it('refuses an unknown or missing state with a clear page, never a 500', async () => {
    const missing = await callback(new URL(`${base}/oauth/callback?code=abc`), '');
    expect(missing.status).toBe(400);
    expect(missing.body).toContain('state_missing');
    const forged = await callback(new URL(`${base}/oauth/callback?code=abc&state=${'x'.repeat(43)}`), '', 'application/json');
    expect(forged.status).toBe(400);
    expect(JSON.parse(forged.body).error.code).toBe('state_invalid');
  });

  it('answers an expired session with 410 at the start and at the callback', async () => {
    const session = await createSession({ tenant: { externalId: 'flow-expired' } });
    const { authorize, cookies } = await start(session.connectUrl);
    const back = await consent(authorize, { account: 'acct_flow_expired' });
    await t.db.db.prisma.connectSession.updateMany({ where: { tenant: { externalId: 'flow-expired' } }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const cb = await callback(back, cookies, 'application/json');
    expect(cb.status).toBe(410);
    expect(JSON.parse(cb.body).error.code).toBe('connect_session_expired');
    const startAgain = await fetch(session.connectUrl, { redirect: 'manual', headers: { accept: 'application/json' } });
    expect(startAgain.status).toBe(410);
  });

  it('redirects a full-page flow back to returnUrl with the outcome', async () => {
    const session = await createSession({ tenant: { externalId: 'flow-redirect' }, returnUrl: 'https://app.example.com/settings/lever' });
    const { authorize, cookies } = await start(session.connectUrl, 'redirect');
    const cb = await callback(await consent(authorize, { account: 'acct_flow_redirect' }), cookies);
    expect(cb.status).toBe(303);
    const location = new URL(cb.location!);
    expect(location.origin + location.pathname).toBe('https://app.example.com/settings/lever');
    expect(location.searchParams.get('status')).toBe('success');
    expect(location.searchParams.get('connection_id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('re-authorizes in place: same connection id, version bumped, only connection.reauthorized', async () => {
    const first = await createSession({ tenant: { externalId: 'flow-reconnect' } });
    const f1 = await start(first.connectUrl);
    await callback(await consent(f1.authorize, { account: 'acct_flow_reconnect' }), f1.cookies);
    const { connectionId } = await result(first.connectUrl);
    await t.db.db.prisma.connection.update({ where: { id: connectionId! }, data: { status: 'needs_reauth', reauthReason: 'invalid_grant' } });

    const again = await createSession({ tenant: { externalId: 'flow-reconnect' }, connectionId });
    const f2 = await start(again.connectUrl);
    expect((await callback(await consent(f2.authorize, { account: 'acct_flow_reconnect' }), f2.cookies)).status).toBe(200);
    expect(await result(again.connectUrl)).toMatchObject({ status: 'success', connectionId });
    const connection = await t.db.db.prisma.connection.findUniqueOrThrow({ where: { id: connectionId! } });
    expect(connection).toMatchObject({ status: 'active', reauthReason: null, version: 1 });
    const types = (await t.db.db.prisma.event.findMany({ where: { connectionId: connectionId! }, orderBy: { seq: 'asc' } })).map((e) => e.type);
    expect(types).toEqual(['connection.created', 'connection.reauthorized']);
    expect(await t.db.db.prisma.connection.count({ where: { tenant: { externalId: 'flow-reconnect' } } })).toBe(1);
  });

  it('refuses a reconnect to a different Lever account with account_mismatch', async () => {
    const first = await createSession({ tenant: { externalId: 'flow-mismatch' } });
    const f1 = await start(first.connectUrl);
    await callback(await consent(f1.authorize, { account: 'acct_mismatch_a' }), f1.cookies);
    const { connectionId } = await result(first.connectUrl);
    const again = await createSession({ tenant: { externalId: 'flow-mismatch' }, connectionId });
    const f2 = await start(again.connectUrl);
    const cb = await callback(await consent(f2.authorize, { account: 'acct_mismatch_b' }), f2.cookies, 'application/json');
    expect(cb.status).toBe(409);
    expect(JSON.parse(cb.body).error.code).toBe('account_mismatch');
    expect(await result(again.connectUrl)).toMatchObject({ status: 'error', error: 'account_mismatch' });
  });

  it('never puts a token in any response body but the token endpoint', async () => {
    const session = await createSession({ tenant: { externalId: 'flow-leak' } });
    const flow = await start(session.connectUrl);
    await callback(await consent(flow.authorize, { account: 'acct_flow_leak' }), flow.cookies);
    const { connectionId } = await result(session.connectUrl);
    const token = (await t.core.tokens.getAccessToken(connectionId!)).accessToken;
    const row = await t.db.db.prisma.connection.findUniqueOrThrow({ where: { id: connectionId! } });
    const refreshToken = t.core.cipher.decrypt(row.refreshTokenCiphertext!, row.id);
    for (const path of [
      `/v1/connections/${connectionId}`,
      `/v1/connections?tenant=flow-leak`,
      `/v1/tenants/flow-leak`,
      `/v1/events?connectionId=${connectionId}`,
      `/connect/${session.token}/result`,
    ]) {
      const body = await (await fetch(base + path, { headers: bearer(t.adminKey) })).text();
      expect(body, path).not.toContain(token);
      expect(body, path).not.toContain(refreshToken);
      expect(body, path).not.toContain(row.accessTokenCiphertext!);
    }
    const tokenBody = (await (await fetch(`${base}/v1/connections/${connectionId}/access-token`, { headers: bearer(t.adminKey) })).json()) as { accessToken: string };
    expect(tokenBody.accessToken).toBe(token);
  });
});
