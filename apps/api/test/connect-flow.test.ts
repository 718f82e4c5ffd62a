import { freePort } from '@lever-connect/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, buildTestApp, type TestApp } from './helpers.js';

/**
 * The authorize/callback flow over real HTTP against the simulator, driven the way a browser drives it:
 * follow the redirects by hand and carry the cookies the api sets for the callback.
 */
describe('Connect Lever: the authorize/callback flow', () => {
  let sim: { url: string };
  let t: TestApp;
  let base: string;

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    t = await buildTestApp(
      {
        PUBLIC_BASE_URL: base,
        CONNECT_ALLOWED_ORIGINS: 'https://app.example.com',
        // Short, so the "Lever hangs" case below is quick.
        LEVER_HTTP_TIMEOUT_MS: '1500',
      },
      { sim: true },
    );
    sim = t.sim!;
    await t.app.listen({ port, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await t?.close();
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

  const codeExchanges = async () => ((await (await fetch(`${sim.url}/__sim/stats`)).json()) as { codeExchanges: number }).codeExchanges;

  const simGrants = async () =>
    (await (await fetch(`${sim.url}/__sim/grants`)).json()) as Array<{ id: string; account: string; status: string; revokedReason?: string }>;

  async function injectFault(fault: { kind: string; matchAccount: string; delayMs?: number }) {
    const res = await fetch(`${sim.url}/__sim/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ target: 'token', count: 1, ...fault }),
    });
    expect(res.status).toBe(201);
  }

  /** A connected tenant (popup flow), for the reconnect cases. */
  async function connected(tenant: string, account: string) {
    const session = await createSession({ tenant: { externalId: tenant } });
    const flow = await start(session.connectUrl);
    expect((await callback(await consent(flow.authorize, { account }), flow.cookies)).status).toBe(200);
    const { connectionId } = await result(session.connectUrl);
    return t.db.db.prisma.connection.findUniqueOrThrow({ where: { id: connectionId! } });
  }

  const RETURN_URL = 'https://app.example.com/settings/lever';

  /** The 303 back to returnUrl, checked to carry the outcome and nothing of the OAuth exchange. */
  function returned(cb: { status: number; body: string; location: string | null }, back: URL) {
    expect(cb.status, cb.body).toBe(303);
    const location = new URL(cb.location!);
    expect(location.origin + location.pathname).toBe(RETURN_URL);
    expect([...location.searchParams.keys()].filter((k) => !['status', 'error', 'connection_id'].includes(k))).toEqual([]);
    for (const secret of [back.searchParams.get('code'), back.searchParams.get('state')]) {
      if (secret) expect(cb.location).not.toContain(secret);
    }
    return Object.fromEntries(location.searchParams);
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
    // Tokens are stored encrypted under the current key, each bound to its row and its column.
    expect(connection.accessTokenCiphertext!.startsWith(t.core.cipher.currentPrefix)).toBe(true);
    expect(connection.refreshTokenCiphertext!.startsWith(t.core.cipher.currentPrefix)).toBe(true);
    expect(() => t.core.cipher.decrypt(connection.refreshTokenCiphertext!, { row: connection.id, column: 'accessToken' })).toThrow(/failed authentication/);
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
    const refreshToken = t.core.cipher.decrypt(row.refreshTokenCiphertext!, { row: row.id, column: 'refreshToken' });
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
  describe('redirect mode: every outcome goes back to returnUrl', () => {
    it('sends an account_mismatch back to returnUrl and records it as the result', async () => {
      const original = await connected('redirect-mismatch', 'acct_redirect_mismatch_a');
      const session = await createSession({ tenant: { externalId: 'redirect-mismatch' }, connectionId: original.id, returnUrl: RETURN_URL });
      const flow = await start(session.connectUrl, 'redirect');
      const back = await consent(flow.authorize, { account: 'acct_redirect_mismatch_b' });
      expect(returned(await callback(back, flow.cookies), back)).toEqual({ status: 'error', error: 'account_mismatch' });
      expect(await result(session.connectUrl)).toMatchObject({ status: 'error', error: 'account_mismatch' });
    });

    it('sends an expired session back to returnUrl without exchanging the code', async () => {
      const session = await createSession({ tenant: { externalId: 'redirect-expired' }, returnUrl: RETURN_URL });
      const flow = await start(session.connectUrl, 'redirect');
      const back = await consent(flow.authorize, { account: 'acct_redirect_expired' });
      await t.db.db.prisma.connectSession.updateMany({ where: { tenant: { externalId: 'redirect-expired' } }, data: { expiresAt: new Date(Date.now() - 1000) } });
      const before = await codeExchanges();
      expect(returned(await callback(back, flow.cookies), back)).toEqual({ status: 'error', error: 'connect_session_expired' });
      expect(await codeExchanges()).toBe(before);
      expect(await result(session.connectUrl)).toMatchObject({ status: 'error', error: 'connect_session_expired' });
    });

    it('sends a used session back to returnUrl without exchanging the code, keeping the recorded success', async () => {
      const session = await createSession({ tenant: { externalId: 'redirect-used' }, returnUrl: RETURN_URL });
      const first = await start(session.connectUrl, 'redirect');
      const second = await start(session.connectUrl, 'redirect');
      const backSecond = await consent(second.authorize, { account: 'acct_redirect_used' });
      expect(returned(await callback(backSecond, second.cookies), backSecond)).toMatchObject({ status: 'success' });
      const backFirst = await consent(first.authorize, { account: 'acct_redirect_used' });
      const before = await codeExchanges();
      expect(returned(await callback(backFirst, first.cookies), backFirst)).toEqual({ status: 'error', error: 'connect_session_used' });
      expect(await codeExchanges()).toBe(before);
      expect(await result(session.connectUrl)).toMatchObject({ status: 'success' });
    });

    it('sends a refused authorization code back as authorization_code_invalid', async () => {
      const used = await createSession({ tenant: { externalId: 'redirect-code-a' } });
      const usedFlow = await start(used.connectUrl);
      const usedBack = await consent(usedFlow.authorize, { account: 'acct_redirect_code_a' });
      expect((await callback(usedBack, usedFlow.cookies)).status).toBe(200);

      const session = await createSession({ tenant: { externalId: 'redirect-code-b' }, returnUrl: RETURN_URL });
      const flow = await start(session.connectUrl, 'redirect');
      const back = await consent(flow.authorize, { account: 'acct_redirect_code_b' });
      back.searchParams.set('code', usedBack.searchParams.get('code')!);
      expect(returned(await callback(back, flow.cookies), back)).toEqual({ status: 'error', error: 'authorization_code_invalid' });
      expect(await result(session.connectUrl)).toMatchObject({ status: 'error', error: 'authorization_code_invalid' });
    });

    it('sends a Lever outage during the exchange back as code_exchange_failed', async () => {
      const session = await createSession({ tenant: { externalId: 'redirect-outage' }, returnUrl: RETURN_URL });
      const flow = await start(session.connectUrl, 'redirect');
      const back = await consent(flow.authorize, { account: 'acct_redirect_outage' });
      await injectFault({ kind: '503', matchAccount: 'acct_redirect_outage' });
      expect(returned(await callback(back, flow.cookies), back)).toEqual({ status: 'error', error: 'code_exchange_failed' });
      expect(await result(session.connectUrl)).toMatchObject({ status: 'error', error: 'code_exchange_failed' });
    });

    it('sends a callback from another browser back without recording it or burning the state', async () => {
      const session = await createSession({ tenant: { externalId: 'redirect-crossed' }, returnUrl: RETURN_URL });
      const flow = await start(session.connectUrl, 'redirect');
      const back = await consent(flow.authorize, { account: 'acct_redirect_crossed' });
      expect(returned(await callback(back, ''), back)).toEqual({ status: 'error', error: 'state_invalid' });
      expect(await result(session.connectUrl)).toMatchObject({ status: 'pending' });
      expect(returned(await callback(back, flow.cookies), back)).toMatchObject({ status: 'success' });
    });
  });

  describe('the code is exchanged only for a session that can still complete', () => {
    it('refuses an expired or used session with 410 and never calls Lever\'s token endpoint', async () => {
      const expired = await createSession({ tenant: { externalId: 'exchange-expired' } });
      const expiredFlow = await start(expired.connectUrl);
      const expiredBack = await consent(expiredFlow.authorize, { account: 'acct_exchange_expired' });
      await t.db.db.prisma.connectSession.updateMany({ where: { tenant: { externalId: 'exchange-expired' } }, data: { expiresAt: new Date(Date.now() - 1000) } });

      const used = await createSession({ tenant: { externalId: 'exchange-used' } });
      const stale = await start(used.connectUrl);
      const fresh = await start(used.connectUrl);
      expect((await callback(await consent(fresh.authorize, { account: 'acct_exchange_used' }), fresh.cookies)).status).toBe(200);
      const staleBack = await consent(stale.authorize, { account: 'acct_exchange_used' });

      const before = await codeExchanges();
      const tooLate = await callback(expiredBack, expiredFlow.cookies, 'application/json');
      expect(tooLate.status).toBe(410);
      expect(JSON.parse(tooLate.body).error.code).toBe('connect_session_expired');
      const spent = await callback(staleBack, stale.cookies, 'application/json');
      expect(spent.status).toBe(410);
      expect(JSON.parse(spent.body).error.code).toBe('connect_session_used');
      expect(await codeExchanges()).toBe(before);
      expect(await t.db.db.prisma.connection.count({ where: { tenant: { externalId: { in: ['exchange-expired', 'exchange-used'] } } } })).toBe(1);
    });
  });

  describe('a refused reconnect', () => {
    it('revokes the grant the refused authorization created at Lever and leaves the connection untouched', async () => {
      const original = await connected('mismatch-revoke', 'acct_mismatch_revoke_a');
      const session = await createSession({ tenant: { externalId: 'mismatch-revoke' }, connectionId: original.id });
      const flow = await start(session.connectUrl);
      const cb = await callback(await consent(flow.authorize, { account: 'acct_mismatch_revoke_b' }), flow.cookies, 'application/json');
      expect(cb.status).toBe(409);
      expect(JSON.parse(cb.body).error.code).toBe('account_mismatch');

      const grants = await simGrants();
      expect(grants.filter((g) => g.account === 'acct_mismatch_revoke_b')).toEqual([
        expect.objectContaining({ status: 'revoked', revokedReason: 'client_revoked' }),
      ]);
      expect(grants.filter((g) => g.account === 'acct_mismatch_revoke_a')).toEqual([expect.objectContaining({ status: 'active' })]);
      const after = await t.db.db.prisma.connection.findUniqueOrThrow({ where: { id: original.id } });
      expect(after).toEqual(original);
      // Its tokens still work at Lever.
      const grant = await t.core.tokens.getAccessToken(original.id);
      const api = await fetch(`${grant.apiBaseUrl}/users`, { headers: { authorization: `Bearer ${grant.accessToken}` } });
      expect(api.status).toBe(200);
    });
  });

  describe('code exchange failures', () => {
    it('answers a reused authorization code with 400 authorization_code_invalid, not a 5xx', async () => {
      const first = await createSession({ tenant: { externalId: 'code-reuse-a' } });
      const firstFlow = await start(first.connectUrl);
      const firstBack = await consent(firstFlow.authorize, { account: 'acct_code_reuse_a' });
      expect((await callback(firstBack, firstFlow.cookies)).status).toBe(200);
      const session = await createSession({ tenant: { externalId: 'code-reuse-b' } });
      const flow = await start(session.connectUrl);
      const back = await consent(flow.authorize, { account: 'acct_code_reuse_b' });
      back.searchParams.set('code', firstBack.searchParams.get('code')!);
      const cb = await callback(back, flow.cookies, 'application/json');
      expect(cb.status).toBe(400);
      expect(JSON.parse(cb.body).error.code).toBe('authorization_code_invalid');
      expect(await result(session.connectUrl)).toMatchObject({ status: 'error', error: 'authorization_code_invalid' });
    });

    it.each([
      ['answers 503', { kind: '503' }, 'server_error'],
      ['drops the connection', { kind: 'reset' }, 'network_error'],
      ['does not answer in time', { kind: 'timeout', delayMs: 10_000 }, 'timeout'],
    ])('answers 502 code_exchange_failed when Lever %s during the exchange', async (_name, fault, reason) => {
      const account = `acct_outage_${fault.kind}`;
      const session = await createSession({ tenant: { externalId: `outage-${fault.kind}` } });
      const flow = await start(session.connectUrl);
      const back = await consent(flow.authorize, { account });
      await injectFault({ ...fault, matchAccount: account });
      const cb = await callback(back, flow.cookies, 'application/json');
      expect(cb.status).toBe(502);
      expect(JSON.parse(cb.body).error).toMatchObject({ code: 'code_exchange_failed', details: { reason } });
      expect(await result(session.connectUrl)).toMatchObject({ status: 'error', error: 'code_exchange_failed' });
    });
  });

  describe('state', () => {
    const stateTtlMs = (state: string) => t.core.redis.pttl(`${t.core.config.redisPrefix}:oauth-state:${state}`);

    it('lives exactly as long as its session has left', async () => {
      const session = await createSession({ tenant: { externalId: 'state-ttl' } });
      const full = (await start(session.connectUrl)).authorize.searchParams.get('state')!;
      const sessionLeft = Date.parse((await t.db.db.prisma.connectSession.findFirstOrThrow({ where: { tenant: { externalId: 'state-ttl' } } })).expiresAt.toISOString()) - Date.now();
      const ttl = await stateTtlMs(full);
      expect(ttl).toBeGreaterThan(20 * 60_000); // the session's 30 minutes, not a 10-minute cap
      expect(Math.abs(ttl - sessionLeft)).toBeLessThan(2_000);

      // A session with 90 s left gives its next state 90 s.
      await t.db.db.prisma.connectSession.updateMany({ where: { tenant: { externalId: 'state-ttl' } }, data: { expiresAt: new Date(Date.now() + 90_000) } });
      const late = (await start(session.connectUrl)).authorize.searchParams.get('state')!;
      const lateTtl = await stateTtlMs(late);
      expect(lateTtl).toBeLessThanOrEqual(90_000);
      expect(lateTtl).toBeGreaterThan(85_000);
    });

    it("a callback without the browser's state cookie burns nothing: the customer's own callback still completes", async () => {
      const session = await createSession({ tenant: { externalId: 'state-crossed' } });
      const flow = await start(session.connectUrl);
      const other = await start((await createSession({ tenant: { externalId: 'state-crossed-other' } })).connectUrl);
      const back = await consent(flow.authorize, { account: 'acct_state_crossed' });
      const before = await codeExchanges();
      for (const cookies of [other.cookies, '']) {
        const crossed = await callback(back, cookies, 'application/json');
        expect(crossed.status).toBe(400);
        expect(JSON.parse(crossed.body).error.code).toBe('state_invalid');
      }
      expect(await codeExchanges()).toBe(before);
      expect(await result(session.connectUrl)).toMatchObject({ status: 'pending' });
      expect((await callback(back, flow.cookies)).status).toBe(200);
      expect(await result(session.connectUrl)).toMatchObject({ status: 'success' });
    });

    it("a forged error=access_denied with the customer's state but not their cookie records nothing", async () => {
      const session = await createSession({ tenant: { externalId: 'state-forged-error' } });
      const flow = await start(session.connectUrl);
      const state = flow.authorize.searchParams.get('state')!;
      const forged = await callback(new URL(`${base}/oauth/callback?error=access_denied&state=${state}`), '', 'application/json');
      expect(forged.status).toBe(400);
      expect(JSON.parse(forged.body).error.code).toBe('state_invalid');
      expect(await result(session.connectUrl)).toMatchObject({ status: 'pending' });
      expect((await callback(await consent(flow.authorize, { account: 'acct_state_forged_error' }), flow.cookies)).status).toBe(200);
      expect(await result(session.connectUrl)).toMatchObject({ status: 'success' });
    });
  });
});
