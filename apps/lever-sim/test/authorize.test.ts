import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bootSim, DEV, REDIRECT_URI, type TestSim } from './helpers.js';

describe('GET /authorize', () => {
  let sim: TestSim;
  beforeAll(async () => {
    sim = await bootSim();
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.control('POST', '/reset'));

  const location = (res: Response) => new URL(res.headers.get('location') ?? 'http://invalid/');

  it('answers an unknown client_id with a 400 HTML page and never redirects', async () => {
    const res = await sim.authorize({ client_id: 'nope' });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(res.headers.get('location')).toBeNull();
    expect(await res.text()).toContain('Unknown application');
  });

  it('answers a redirect_uri outside localhost with a 400 HTML page for the dev client', async () => {
    const res = await sim.authorize({ redirect_uri: 'https://evil.example/cb' });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(await res.text()).toContain('Callback URL mismatch');
  });

  it('accepts any localhost or 127.0.0.1 port for the dev client', async () => {
    for (const redirect of ['http://localhost:3999/cb', 'http://127.0.0.1:41234/x/y']) {
      const res = await sim.authorize({ redirect_uri: redirect, sim_auto_approve: '1' });
      expect(res.status).toBe(302);
      expect(location(res).origin).toBe(new URL(redirect).origin);
    }
  });

  it('redirects invalid_request when scope is missing, echoing state', async () => {
    const res = await sim.authorize({ scope: '' });
    expect(res.status).toBe(302);
    const url = location(res);
    expect(url.origin + url.pathname).toBe(REDIRECT_URI);
    expect(url.searchParams.get('error')).toBe('invalid_request');
    expect(url.searchParams.get('state')).toBe('state-123');
  });

  it('redirects unsupported_response_type for anything but response_type=code', async () => {
    const res = await sim.authorize({ response_type: 'token' });
    expect(location(res).searchParams.get('error')).toBe('unsupported_response_type');
  });

  it('refuses a PKCE challenge with a method other than S256', async () => {
    for (const method of ['plain', undefined]) {
      const res = await sim.authorize({ code_challenge: 'abc', ...(method ? { code_challenge_method: method } : {}) });
      expect(res.status).toBe(302);
      expect(location(res).searchParams.get('error')).toBe('invalid_request');
    }
  });

  it('answers an unknown audience with access_denied "Service not found"', async () => {
    const res = await sim.authorize({ audience: 'https://api.example.com/' });
    const url = location(res);
    expect(url.searchParams.get('error')).toBe('access_denied');
    expect(url.searchParams.get('error_description')).toBe('Service not found: https://api.example.com/');
  });

  it('renders a consent page naming the app, the account and the scopes in words, with #approve and #deny', async () => {
    const res = await sim.authorize({ scope: 'offline_access opportunities:read:admin users:write:admin', sim_account: 'acct_acme' });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('lever-connect (dev)');
    expect(html).toContain('Acme');
    expect(html).toContain('user_acct_acme_admin');
    expect(html).toContain('Read opportunities');
    expect(html).toContain('Read and write users');
    expect(html).toContain('Stay connected (offline access)');
    expect(html).toMatch(/<button[^>]*id="approve"/);
    expect(html).toMatch(/<button[^>]*id="deny"/);
    expect(html).toContain('action="/authorize/decision"');
  });

  async function submit(decision: 'approve' | 'deny') {
    const page = await (await sim.authorize()).text();
    const requestId = /name="request_id" value="([^"]+)"/.exec(page)![1]!;
    return fetch(`${sim.url}/authorize/decision`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ request_id: requestId, decision }),
      redirect: 'manual',
    });
  }

  it('redirects access_denied with a description and the state when the admin denies', async () => {
    const res = await submit('deny');
    expect(res.status).toBe(302);
    const url = location(res);
    expect(url.searchParams.get('error')).toBe('access_denied');
    expect(url.searchParams.get('error_description')).toBeTruthy();
    expect(url.searchParams.get('state')).toBe('state-123');
    expect(url.searchParams.get('code')).toBeNull();
  });

  it('redirects with a code and the state when the admin approves, and the code works', async () => {
    const res = await submit('approve');
    expect(res.status).toBe(302);
    const url = location(res);
    expect(url.searchParams.get('state')).toBe('state-123');
    const exchanged = await sim.exchange(url.searchParams.get('code')!);
    expect(exchanged.status).toBe(200);
    expect((await sim.stats()).authorizations).toBe(1);
  });

  it('answers a replayed consent form with a 400 page (the pending request is single use)', async () => {
    const page = await (await sim.authorize()).text();
    const requestId = /name="request_id" value="([^"]+)"/.exec(page)![1]!;
    const post = () =>
      fetch(`${sim.url}/authorize/decision`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ request_id: requestId, decision: 'approve' }),
        redirect: 'manual',
      });
    expect((await post()).status).toBe(302);
    expect((await post()).status).toBe(400);
  });

  it('skips the consent page with sim_auto_approve=1', async () => {
    const res = await sim.authorize({ sim_auto_approve: '1' });
    expect(res.status).toBe(302);
    expect(location(res).searchParams.get('code')).toBeTruthy();
  });

  it('skips the consent page when autoApprove is configured', async () => {
    await sim.control('POST', '/config', { autoApprove: true });
    try {
      const res = await sim.authorize();
      expect(res.status).toBe(302);
      expect(location(res).searchParams.get('code')).toBeTruthy();
    } finally {
      await sim.control('POST', '/config', { autoApprove: false });
    }
  });

  it('issues tokens for the account picked with sim_account and its admin user', async () => {
    const { accessToken } = await sim.connect({ sim_account: 'acct_globex' });
    const info = await sim.introspect(accessToken);
    expect(info.account).toBe('acct_globex');
    const claims = JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    expect(claims['https://oauth.lever.co/userId']).toBe('user_acct_globex_admin');
    expect(claims['https://oauth.lever.co/clientId']).toBe(DEV.clientId);
  });
});

describe('registered clients', () => {
  it('match redirect URIs exactly', async () => {
    const sim = await bootSim({
      clients: [{ clientId: 'partner', clientSecret: 's3cret', name: 'Partner App', redirectUris: ['https://partner.example/cb'] }],
    });
    try {
      const ok = await sim.authorize({ client_id: 'partner', redirect_uri: 'https://partner.example/cb', sim_auto_approve: '1' });
      expect(ok.status).toBe(302);
      const other = await sim.authorize({ client_id: 'partner', redirect_uri: 'http://localhost:3000/cb' });
      expect(other.status).toBe(400);
    } finally {
      await sim.close();
    }
  });
});
