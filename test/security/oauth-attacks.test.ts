import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, buildTestApp, type TestApp } from '../../apps/api/test/helpers.js';
import { startSim, type RunningSim } from '../../apps/lever-sim/src/index.js';
import { freePort } from '@lever-connect/testing';

/**
 * Attacks on the "Connect Lever" flow, each tried against the api over real HTTP with the simulator as
 * Lever. Every refusal is a 4xx with an error code (or Lever's own refusal), never a 500, never a connection.
 */
describe('security: OAuth connect flow attacks', () => {
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

  const json = { accept: 'application/json' };
  const connections = () => t.db.db.prisma.connection.count();

  async function session(tenant: string, extra: Record<string, unknown> = {}) {
    const res = await fetch(`${base}/v1/connect-sessions`, {
      method: 'POST',
      headers: { ...bearer(t.adminKey), 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: { externalId: tenant }, ...extra }),
    });
    return { status: res.status, body: (await res.json()) as { token: string; connectUrl: string; error?: { code: string } } };
  }

  async function start(tenant: string) {
    const s = (await session(tenant)).body;
    const res = await fetch(`${s.connectUrl}?mode=popup`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    const cookies = res.headers
      .getSetCookie()
      .map((c) => c.split(';')[0]!)
      .filter((c) => !c.endsWith('='))
      .join('; ');
    return { connectUrl: s.connectUrl, authorize: new URL(res.headers.get('location')!), cookies };
  }

  async function approve(authorize: URL, account: string, redirectUri?: string) {
    const url = new URL(authorize);
    url.searchParams.set('sim_auto_approve', '1');
    url.searchParams.set('sim_account', account);
    if (redirectUri) url.searchParams.set('redirect_uri', redirectUri);
    return fetch(url, { redirect: 'manual' });
  }

  async function callback(url: URL | string, cookies = '', accept = 'application/json') {
    const res = await fetch(url, { redirect: 'manual', headers: { cookie: cookies, accept } });
    const body = await res.text();
    return { status: res.status, body, code: accept === 'application/json' && body.startsWith('{') ? (JSON.parse(body) as { error?: { code: string } }).error?.code : undefined };
  }

  function expectRefused(r: { status: number; body: string }, code?: string) {
    expect(r.status, r.body).toBeGreaterThanOrEqual(400);
    expect(r.status, r.body).toBeLessThan(500);
    expect(r.body).not.toMatch(/\n\s+at |node_modules/);
    if (code) expect(JSON.parse(r.body).error.code).toBe(code);
  }

  it('refuses a callback without state, with a forged state, and with a state from another session', async () => {
    const before = await connections();
    expectRefused(await callback(`${base}/oauth/callback?code=abc`), 'state_missing');
    expectRefused(await callback(`${base}/oauth/callback?code=abc&state=${'A'.repeat(43)}`), 'state_invalid');
    const a = await start('sec-a');
    const b = await start('sec-b');
    const backA = new URL((await approve(a.authorize, 'acct_sec_a')).headers.get('location')!);
    // B's browser (B's cookies) presents A's code and state.
    expectRefused(await callback(backA, b.cookies), 'state_invalid');
    // No cookies at all (an attacker forwarding the link): also refused.
    expectRefused(await callback(backA, ''), 'state_invalid');
    expect(await connections()).toBe(before);
    // Neither refusal burnt A's state (it is compared with the cookie before it is consumed): A completes.
    expect((await callback(backA, a.cookies)).status).toBe(200);
  });

  it('refuses a replayed callback (state single use) and an expired session', async () => {
    const a = await start('sec-replay');
    const back = new URL((await approve(a.authorize, 'acct_sec_replay')).headers.get('location')!);
    expect((await callback(back, a.cookies)).status).toBe(200);
    expectRefused(await callback(back, a.cookies), 'state_invalid');

    const e = await start('sec-expired');
    const backE = new URL((await approve(e.authorize, 'acct_sec_expired')).headers.get('location')!);
    await t.db.db.prisma.connectSession.updateMany({ where: { tenant: { externalId: 'sec-expired' } }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expectRefused(await callback(backE, e.cookies), 'connect_session_expired');
  });

  it('a replayed authorization code never yields a second connection, and Lever revokes the grant it produced', async () => {
    const a = await start('sec-code');
    const back = new URL((await approve(a.authorize, 'acct_sec_code')).headers.get('location')!);
    expect((await callback(back, a.cookies)).status).toBe(200);
    const before = await connections();
    // A second browser session with its own valid state presents the already-used code.
    const b = await start('sec-code-2');
    const backB = new URL((await approve(b.authorize, 'acct_sec_code_2')).headers.get('location')!);
    backB.searchParams.set('code', back.searchParams.get('code')!);
    const replay = await callback(backB, b.cookies);
    // Lever's invalid_grant is the customer's to fix (start again), not an outage of ours: a 4xx.
    expect(replay.status).toBe(400);
    expect(replay.code).toBe('authorization_code_invalid');
    expect(await connections()).toBe(before);
    const grants = (await (await fetch(`${sim.url}/__sim/grants`)).json()) as Array<{ account: string; status: string; revokedReason?: string }>;
    expect(grants.find((g) => g.account === 'acct_sec_code')).toMatchObject({ status: 'revoked', revokedReason: 'code_reuse' });
  });

  it('redirect_uri tampering: Lever refuses a foreign redirect; a code issued for another redirect is refused at exchange', async () => {
    const a = await start('sec-redirect');
    const foreign = await approve(a.authorize, 'acct_sec_redirect', 'https://evil.example.com/callback');
    expect(foreign.status).toBeGreaterThanOrEqual(400);
    expect(foreign.headers.get('location') ?? '').not.toContain('evil.example.com');
    // The dev client accepts any loopback redirect: the attacker's listener gets a code, then feeds it to our
    // callback with the victim's state; we always send our fixed callback URL, so the exchange fails.
    const stolen = await approve(a.authorize, 'acct_sec_redirect', 'http://127.0.0.1:9/steal');
    expect(stolen.status).toBe(302);
    const attacker = new URL(stolen.headers.get('location')!);
    expect(attacker.origin).toBe('http://127.0.0.1:9');
    const before = await connections();
    const fed = new URL(`${base}/oauth/callback`);
    fed.search = attacker.search;
    const r = await callback(fed, a.cookies);
    expect(r.status).toBe(400);
    expect(r.code).toBe('authorization_code_invalid');
    expect(await connections()).toBe(before);
  });

  it('never renders or redirects with a code, a token or a state, whatever the outcome', async () => {
    const seen: string[] = [];
    const states: string[] = [];
    const record = async (res: Response) => {
      seen.push(res.headers.get('location') ?? '', await res.text());
      return res;
    };
    async function flow(tenant: string, account: string, options: { mode: 'popup' | 'redirect'; connectionId?: string; tamper?: (back: URL) => void }) {
      const s = (await session(tenant, { returnUrl: 'https://app.example.com/done', ...(options.connectionId ? { connectionId: options.connectionId } : {}) })).body;
      const started = await record(await fetch(`${s.connectUrl}?mode=${options.mode}`, { redirect: 'manual' }));
      const cookies = started.headers
        .getSetCookie()
        .map((c) => c.split(';')[0]!)
        .filter((c) => !c.endsWith('='))
        .join('; ');
      const authorize = new URL(started.headers.get('location')!);
      states.push(authorize.searchParams.get('state')!);
      const back = new URL((await approve(authorize, account)).headers.get('location')!);
      options.tamper?.(back);
      for (const accept of ['text/html', 'application/json']) {
        await record(await fetch(back, { redirect: 'manual', headers: { cookie: accept === 'text/html' ? cookies : '', accept } }));
      }
      await record(await fetch(back, { redirect: 'manual', headers: { cookie: cookies, accept: 'text/html' } }));
      await record(await fetch(`${s.connectUrl}/result`));
      return (await (await fetch(`${s.connectUrl}/result`)).json()) as { connectionId?: string };
    }
    const first = await flow('sec-leak', 'acct_sec_leak', { mode: 'popup' });
    await flow('sec-leak-redirect', 'acct_sec_leak_redirect', { mode: 'redirect' });
    await flow('sec-leak', 'acct_sec_leak_other', { mode: 'redirect', connectionId: first.connectionId! });
    await flow('sec-leak-denied', 'acct_sec_leak_denied', { mode: 'redirect', tamper: (back) => back.searchParams.set('error', 'access_denied') });
    await flow('sec-leak-bad-code', 'acct_sec_leak_bad_code', { mode: 'redirect', tamper: (back) => back.searchParams.set('code', 'not-a-code') });

    const secrets = (await (await fetch(`${sim.url}/__sim/secrets`)).json()) as Record<'accessTokens' | 'refreshTokens' | 'codes', string[]>;
    const issued = [...secrets.accessTokens, ...secrets.refreshTokens, ...secrets.codes, ...states];
    expect(secrets.codes.length).toBeGreaterThanOrEqual(5);
    expect(seen.length).toBeGreaterThan(20);
    // The authorize redirect is the only place a state may appear (it is how it reaches Lever).
    const answers = seen.filter((text) => !text.startsWith(`${sim.url}/authorize`));
    for (const secret of issued) {
      for (const text of answers) expect(text.includes(secret), `an issued secret in ${text.slice(0, 120)}`).toBe(false);
    }
  });

  it.each([
    'https://evil.example.com/x',
    '//evil.example.com/x',
    'https://app.example.com.evil.example.com/x',
    'https://app.example.com@evil.example.com/x',
    'javascript:alert(1)',
    'http://app.example.com/x',
    'data:text/html,hi',
  ])('refuses returnUrl %s (no open redirect)', async (returnUrl) => {
    const r = await session('sec-open-redirect', { returnUrl });
    expect(r.status).toBe(400);
    expect(r.body.error?.code).toMatch(/return_url_not_allowed|validation_failed/);
  });

  it('a callback carrying both a code and an error is an error: the code is never exchanged', async () => {
    const a = await start('sec-both');
    const back = new URL((await approve(a.authorize, 'acct_sec_both')).headers.get('location')!);
    back.searchParams.set('error', 'access_denied');
    const before = await connections();
    const r = await callback(back, a.cookies, 'text/html');
    expect(r.status).toBe(200);
    expect(r.body).toContain('access_denied');
    expect(await connections()).toBe(before);
    expect(await (await fetch(`${a.connectUrl}/result`)).json()).toMatchObject({ status: 'error', error: 'access_denied' });
  });

  it.each([
    ['a huge code', `code=${'c'.repeat(5000)}&state=abc`],
    ['a huge state', `code=abc&state=${'s'.repeat(5000)}`],
    ['a huge error_description', `error=x&error_description=${'d'.repeat(10_000)}&state=abc`],
    ['repeated state', 'code=abc&state=a&state=b'],
    ['bracket arrays', 'code[]=a&state[x]=b'],
    ['broken percent-encoding', 'code=%zz&state=%E0%A4%A'],
    ['NUL and control characters', 'code=%00%01&state=%00%0d%0a'],
    ['unicode state', `state=${encodeURIComponent('ß漢字😀'.repeat(20))}&code=x`],
    ['a 20 KB query', `x=${'q'.repeat(20_000)}`],
  ])('answers a callback with %s with a 4xx and a code, never a 500', async (_name, query) => {
    for (const accept of ['application/json', 'text/html']) {
      const r = await callback(`${base}/oauth/callback?${query}`, '', accept);
      expect(r.status, r.body.slice(0, 300)).toBeGreaterThanOrEqual(400);
      expect(r.status, r.body.slice(0, 300)).toBeLessThan(500);
      expect(r.body).not.toMatch(/\n\s+at |node_modules/);
      // Node's HTTP parser answers a request line beyond its 16 KiB header limit itself (431, no body).
      if (accept === 'application/json' && r.status !== 431) expect(JSON.parse(r.body).error.code).toBeTypeOf('string');
    }
  });

  it('answers connect links with huge or malformed tokens with a 4xx, never a 500', async () => {
    for (const token of ['x'.repeat(300), '%00', '..%2F..%2Fetc%2Fpasswd', encodeURIComponent('<script>')]) {
      for (const path of [`/connect/${token}`, `/connect/${token}/result`]) {
        const res = await fetch(`${base}${path}`, { redirect: 'manual', headers: json });
        expect(res.status, path).toBeGreaterThanOrEqual(400);
        expect(res.status, path).toBeLessThan(500);
        expect(await res.text()).not.toMatch(/\n\s+at |node_modules/);
      }
    }
  });
});
