import { createHash, randomBytes } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { LeverApiError, LeverConnect, RateLimitedError } from '@lever-connect/sdk';
import { freePort } from '@lever-connect/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectLever } from '../../../test/support/connect-flow.js';
import { bearer, buildTestApp, type TestApp } from './helpers.js';

/**
 * `/v1/connections/:id/lever/*` over real HTTP, against the simulator's API (faults, clock, grants), with
 * connections made the way a customer makes them.
 */
describe('the Lever API proxy', () => {
  let t: TestApp;
  let sim: { url: string };
  let base: string;

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    t = await buildTestApp(
      { PUBLIC_BASE_URL: base, LEVER_PROXY_MAX_BODY_BYTES: String(4 * 1024 * 1024), LEVER_PROXY_TIMEOUT_MS: '800', TOKEN_CACHE_TTL_MS: '60000' },
      { sim: true, simEnv: { SIM_AUTO_APPROVE: '1' } },
    );
    sim = t.sim!;
    await t.app.listen({ port, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await t?.close();
  });

  const simPost = async (path: string, body: unknown) => {
    const res = await fetch(sim.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status).toBeLessThan(300);
    return res.json() as Promise<unknown>;
  };
  const simStats = async () => (await (await fetch(`${sim.url}/__sim/stats`)).json()) as Record<string, number>;
  const fault = (account: string, kind: string, extra: Record<string, unknown> = {}) => simPost('/__sim/faults', { target: 'api', kind, matchAccount: account, ...extra });

  async function connect(tenant: string, key = t.adminKey): Promise<string> {
    const outcome = await connectLever({ apiUrl: base, apiKey: key, tenant, simAccount: `acct_${tenant}` });
    expect(outcome.result.status).toBe('success');
    return outcome.result.connectionId!;
  }

  /** A GET with the path exactly as written: fetch (WHATWG URL) would resolve `..` and `%2e%2e` segments before sending. */
  const rawGet = (path: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const { hostname, port } = new URL(base);
      const req = httpRequest({ hostname, port, path, headers: bearer(t.adminKey) }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject).end();
    });

  const lever = (id: string, method: string, path: string, init: { key?: string; body?: RequestInit['body']; headers?: Record<string, string> } = {}) =>
    fetch(`${base}/v1/connections/${id}/lever/${path}`, { method, headers: { ...bearer(init.key ?? t.adminKey), ...init.headers }, ...(init.body !== undefined ? { body: init.body } : {}) });

  it("forwards a read with the connection's token and streams Lever's answer back, with our two headers", async () => {
    const id = await connect('proxy-read');
    const res = await lever(id, 'GET', 'opportunities?limit=3');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(res.headers.get('x-lever-connect-attempts')).toBe('1');
    expect(res.headers.get('x-lever-connect-wait-ms')).toMatch(/^\d+$/); // present, a whole number of ms (Number(null) is 0)
    const page = (await res.json()) as { data: unknown[]; hasNext: boolean; next: string };
    expect(page.data).toHaveLength(3);
    expect(page.hasNext).toBe(true);
    // The query string went as it was: the next page follows Lever's own offset token.
    const second = (await (await lever(id, 'GET', `opportunities?limit=3&offset=${encodeURIComponent(page.next)}`)).json()) as { data: Array<{ id: string }> };
    expect(second.data.map((o) => o.id)).not.toEqual((page.data as Array<{ id: string }>).map((o) => o.id));
  });

  it('pages through a whole Lever list with the SDK (lever(id).paginate), and types Lever\'s and our errors apart', async () => {
    const id = await connect('proxy-sdk');
    const lc = new LeverConnect({ baseUrl: base, apiKey: t.adminKey });
    const ids = new Set<string>();
    for await (const opportunity of lc.lever(id).paginate<{ id: string }>('opportunities', { limit: 40 })) ids.add(opportunity.id);
    expect(ids.size).toBe(250); // every opportunity of the simulated account, each once
    await expect(lc.lever(id).get('opportunities/nope')).rejects.toBeInstanceOf(LeverApiError);
    await expect(lc.lever(id).get('opportunities/nope')).rejects.toMatchObject({ status: 404, body: { code: 'ResourceNotFound' } });
    const many = await Promise.allSettled(Array.from({ length: 25 }, () => lc.lever(id).get('users', { maxWaitMs: 0 })));
    expect(many.some((r) => r.status === 'rejected' && r.reason instanceof RateLimitedError)).toBe(true);
  });

  it("passes Lever's own errors through as they are (a 404 for an unknown opportunity)", async () => {
    const id = await connect('proxy-404');
    const res = await lever(id, 'GET', 'opportunities/no-such-opportunity');
    expect(res.status).toBe(404);
    expect(res.headers.get('x-lever-connect-attempts')).toBe('1');
    expect(await res.json()).toMatchObject({ code: 'ResourceNotFound' });
  });

  it('writes through Lever: a stage change and a note', async () => {
    const id = await connect('proxy-write');
    const stages = (await (await lever(id, 'GET', 'stages')).json()) as { data: Array<{ id: string }> };
    const opportunities = (await (await lever(id, 'GET', 'opportunities?limit=1')).json()) as { data: Array<{ id: string; stage: string }> };
    const target = stages.data.find((s) => s.id !== opportunities.data[0]!.stage)!;
    const moved = await lever(id, 'PUT', `opportunities/${opportunities.data[0]!.id}/stage`, { body: JSON.stringify({ stage: target.id }), headers: { 'content-type': 'application/json' } });
    expect(moved.status).toBe(200);
    expect(((await moved.json()) as { data: { stage: string } }).data.stage).toBe(target.id);
    const note = await lever(id, 'POST', `opportunities/${opportunities.data[0]!.id}/notes`, { body: JSON.stringify({ value: 'called back' }), headers: { 'content-type': 'application/json' } });
    expect(note.status).toBe(201);
    expect(await note.json()).toMatchObject({ data: { value: 'called back' } });
  });

  it('streams a multipart resume upload end to end, byte for byte', async () => {
    const id = await connect('proxy-upload');
    const opportunity = ((await (await lever(id, 'GET', 'opportunities?limit=1')).json()) as { data: Array<{ id: string }> }).data[0]!;
    // Larger than what the proxy keeps in memory (1 MiB): it goes through a temp file.
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    const form = new FormData();
    form.append('file', new Blob([bytes], { type: 'application/pdf' }), 'resume.pdf');
    const res = await lever(id, 'POST', `opportunities/${opportunity.id}/resumes`, { body: form });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ data: { file: { name: 'resume.pdf', size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') } } });
  });

  it('refuses a body over LEVER_PROXY_MAX_BODY_BYTES with 413, before calling Lever', async () => {
    const id = await connect('proxy-413');
    const before = (await simStats()).apiCalls!;
    const res = await lever(id, 'POST', 'opportunities/x/notes', { body: Buffer.alloc(5 * 1024 * 1024, 'a'), headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: { code: 'payload_too_large' } });
    expect((await simStats()).apiCalls).toBe(before);
  });

  it.each([
    ['..%2Foauth%2Ftoken', 'an encoded slash'],
    ['%2e%2e/oauth/token', 'an encoded dot-dot'],
    ['opportunities/%2E%2E/%2E%2E/oauth', 'encoded dot-dots inside'],
    ['opportunities%5c..%5coauth', 'encoded backslashes'],
    ['https:%2F%2Fevil.example%2Fx', 'an absolute URL'],
    ['opportunities/%00', 'an encoded NUL'],
    ['../../oauth/token', 'raw dot-dot segments'],
    ['opportunities/./x', 'a raw dot segment'],
    ['opportunities\\..\\oauth', 'backslashes'],
  ])('refuses a path with %s (400 proxy_path_invalid), never calling Lever', async (path) => {
    const id = await connect(`proxy-path-${randomBytes(3).toString('hex')}`);
    const before = (await simStats()).apiCalls!;
    const res = await rawGet(`/v1/connections/${id}/lever/${path}`);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'proxy_path_invalid' } });
    expect((await simStats()).apiCalls).toBe(before);
  });

  it("keeps the tenant wall: another tenant's key gets 404 and Lever is not called", async () => {
    const id = await connect('proxy-wall');
    const { key } = await t.core.apiKeys.create({ name: 'other tenant', tenantExternalId: 'someone-else' });
    const before = (await simStats()).apiCalls!;
    const res = await lever(id, 'GET', 'users', { key });
    expect(res.status).toBe(404);
    expect((await simStats()).apiCalls).toBe(before);
  });

  it('answers 409 needs_reauth for a connection that needs it, without calling Lever', async () => {
    const id = await connect('proxy-reauth');
    await t.db.db.prisma.connection.update({ where: { id }, data: { status: 'needs_reauth', reauthReason: 'invalid_grant' } });
    await t.core.bus.publish('connection', id);
    const before = (await simStats()).apiCalls!;
    const res = await lever(id, 'GET', 'users');
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ error: { code: 'needs_reauth' } });
    expect((await simStats()).apiCalls).toBe(before);
  });

  it("absorbs Lever's 429s, with and without Retry-After, on any method", async () => {
    const id = await connect('proxy-429');
    await fault('acct_proxy-429', '429', { count: 1, retryAfterSeconds: 1 });
    const started = Date.now();
    const get = await lever(id, 'GET', 'users');
    expect(get.status).toBe(200);
    expect(get.headers.get('x-lever-connect-attempts')).toBe('2');
    expect(Date.now() - started).toBeGreaterThanOrEqual(900); // Lever's Retry-After was honoured
    // ...and the header says so: the call waited for its next turn at least that long.
    expect(Number(get.headers.get('x-lever-connect-wait-ms'))).toBeGreaterThanOrEqual(900);
    const opportunity = ((await (await lever(id, 'GET', 'opportunities?limit=1')).json()) as { data: Array<{ id: string }> }).data[0]!;
    await fault('acct_proxy-429', '429_no_retry_after', { count: 3 });
    const post = await lever(id, 'POST', `opportunities/${opportunity.id}/notes`, { body: JSON.stringify({ value: 'once' }), headers: { 'content-type': 'application/json' } });
    expect(post.status).toBe(201);
    expect(post.headers.get('x-lever-connect-attempts')).toBe('4');
    const notes = (await (await lever(id, 'GET', `opportunities/${opportunity.id}/notes`)).json()) as { data: unknown[] };
    expect(notes.data).toHaveLength(1); // the 429s were not processed: one note
    const metrics = await (await fetch(`${base}/metrics`, { headers: bearer(t.adminKey) })).text();
    expect(metrics).toMatch(/lever_connect_proxy_lever_429_total\{[^}]*environment="production"[^}]*\} 4/);
    // The same four, per hour across processes (Redis), for the console's overview.
    const overview = (await (await fetch(`${base}/v1/overview`, { headers: bearer(t.adminKey) })).json()) as { leverRateLimited: Array<{ count: number }> };
    expect(overview.leverRateLimited.reduce((sum, h) => sum + h.count, 0)).toBe(4);
  });

  it("answers lever_rate_limited when Lever keeps answering 429 past the call's wait budget", async () => {
    const id = await connect('proxy-429-budget');
    await fault('acct_proxy-429-budget', '429', { count: 5, retryAfterSeconds: 5 });
    const res = await lever(id, 'GET', 'users', { headers: { 'x-lever-connect-max-wait-ms': '1000' } });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(await res.json()).toMatchObject({ error: { code: 'lever_rate_limited' } });
    await fetch(`${sim.url}/__sim/faults`, { method: 'DELETE' });
  });

  it('retries an idempotent call Lever answers 503, and never repeats a POST', async () => {
    const id = await connect('proxy-503');
    await fault('acct_proxy-503', '503', { count: 2 });
    const get = await lever(id, 'GET', 'users');
    expect(get.status).toBe(200);
    expect(get.headers.get('x-lever-connect-attempts')).toBe('3');
    const opportunity = ((await (await lever(id, 'GET', 'opportunities?limit=1')).json()) as { data: Array<{ id: string }> }).data[0]!;
    await fault('acct_proxy-503', '503', { count: 1 });
    const before = (await simStats()).apiCalls!;
    const post = await lever(id, 'POST', `opportunities/${opportunity.id}/notes`, { body: JSON.stringify({ value: 'maybe' }), headers: { 'content-type': 'application/json' } });
    expect(post.status).toBe(502);
    expect(await post.json()).toMatchObject({ error: { code: 'lever_unavailable', details: { leverStatus: 503 } } });
    expect((await simStats()).apiCalls! - before).toBe(1);
  });

  it('retries a GET that times out, and answers a POST that timed out with what is known', async () => {
    const id = await connect('proxy-timeout');
    await fault('acct_proxy-timeout', 'timeout', { count: 1, delayMs: 3_000 });
    const get = await lever(id, 'GET', 'users');
    expect(get.status).toBe(200);
    expect(get.headers.get('x-lever-connect-attempts')).toBe('2');
    const opportunity = ((await (await lever(id, 'GET', 'opportunities?limit=1')).json()) as { data: Array<{ id: string }> }).data[0]!;
    // Lever processes the POST and answers too late: it may have been done, so it is not sent again.
    await fault('acct_proxy-timeout', 'slow', { count: 1, delayMs: 3_000 });
    const post = await lever(id, 'POST', `opportunities/${opportunity.id}/notes`, { body: JSON.stringify({ value: 'slow' }), headers: { 'content-type': 'application/json' } });
    expect(post.status).toBe(502);
    expect(await post.json()).toMatchObject({ error: { code: 'lever_unavailable', details: { reason: 'timeout', mayHaveReachedLever: true } } });
  });

  it('refreshes once when Lever refuses the access token early (401), however many calls saw it, and succeeds', async () => {
    const id = await connect('proxy-401');
    await lever(id, 'GET', 'users'); // the token is now in the api's cache
    // Lever's clock moves past the token's hour; ours thinks it has 59 minutes left.
    await simPost('/__sim/clock', { advanceSeconds: 3_700 });
    const before = (await simStats()).refreshesOk!;
    const answers = await Promise.all(Array.from({ length: 8 }, () => lever(id, 'GET', 'users')));
    expect(answers.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(answers.every((r) => r.headers.get('x-lever-connect-attempts') === '2')).toBe(true);
    expect((await simStats()).refreshesOk! - before).toBe(1);
  });

  it('marks the connection needs_reauth (with its event) when the grant was revoked at Lever', async () => {
    const id = await connect('proxy-revoked');
    const grants = (await (await fetch(`${sim.url}/__sim/grants?account=acct_proxy-revoked`)).json()) as Array<{ id: string }>;
    await simPost(`/__sim/grants/${grants[0]!.id}/revoke`, {});
    const res = await lever(id, 'GET', 'users');
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ error: { code: 'needs_reauth' } });
    expect(await t.db.db.prisma.connection.findUniqueOrThrow({ where: { id } })).toMatchObject({ status: 'needs_reauth' });
    expect(await t.db.db.prisma.event.count({ where: { connectionId: id, type: 'connection.needs_reauth' } })).toBe(1);
  });

  it("answers lever_forbidden for Lever's 403 (a scope the grant lacks)", async () => {
    const id = await connect('proxy-403');
    const res = await lever(id, 'POST', 'webhooks', { body: JSON.stringify({ url: 'https://example.com/h', event: 'candidateHired' }), headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: { code: 'lever_forbidden', details: { leverStatus: 403 } } });
  });

  it('fails fast with our own 429 rate_limited when the account has no turn within the caller\'s wait', async () => {
    const id = await connect('proxy-budget');
    const answers = await Promise.all(Array.from({ length: 30 }, () => lever(id, 'GET', 'users', { headers: { 'x-lever-connect-max-wait-ms': '0' } })));
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(10);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(10);
    const refused = answers.find((r) => r.status === 429)!;
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await refused.json()).toMatchObject({ error: { code: 'rate_limited' } });
    expect((await simStats()).rateLimited).toBe(0);
  });

  describe('headers (a capturing stand-in for Lever)', () => {
    let capture: Server;
    let seen: IncomingHttpHeaders | undefined;
    let proxied: TestApp;
    let proxiedBase: string;
    beforeAll(async () => {
      capture = createServer((req, res) => {
        seen = req.headers;
        req.resume();
        res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': 'lever_session=abc', server: 'lever', 'retry-after': '0' }).end('{"data":[]}');
      });
      await new Promise<void>((resolve) => capture.listen(0, '127.0.0.1', resolve));
      const port = await freePort();
      proxiedBase = `http://127.0.0.1:${port}`;
      const address = capture.address() as { port: number };
      proxied = await buildTestApp(
        { PUBLIC_BASE_URL: proxiedBase, LEVER_PRODUCTION_API_URL: `http://127.0.0.1:${address.port}/v1` },
        { sim: true, simEnv: { SIM_AUTO_APPROVE: '1' } },
      );
      await proxied.app.listen({ port, host: '127.0.0.1' });
    });
    afterAll(async () => {
      await proxied?.close();
      capture?.close();
    });

    it('sends Lever only allowed headers and the access token, and returns no cookie', async () => {
      const outcome = await connectLever({ apiUrl: proxiedBase, apiKey: proxied.adminKey, tenant: 'proxy-headers', simAccount: 'acct_proxy-headers' });
      const id = outcome.result.connectionId!;
      const res = await fetch(`${proxiedBase}/v1/connections/${id}/lever/users?limit=1`, {
        headers: { ...bearer(proxied.adminKey), cookie: 'lc=1', 'x-forwarded-for': '10.1.2.3', forwarded: 'for=10.1.2.3', 'x-real-ip': '10.1.2.3', accept: 'application/json' },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('set-cookie')).toBeNull();
      expect(res.headers.get('server')).not.toBe('lever');
      expect(res.headers.get('retry-after')).toBe('0');
      const token = (await proxied.core.tokens.getAccessToken(id)).accessToken;
      expect(seen!.authorization).toBe(`Bearer ${token}`);
      expect(seen!.cookie).toBeUndefined();
      expect(seen!['x-forwarded-for']).toBeUndefined();
      expect(seen!.forwarded).toBeUndefined();
      expect(seen!['x-real-ip']).toBeUndefined();
      expect(seen!.accept).toBe('application/json');
      expect(JSON.stringify(seen)).not.toContain(proxied.adminKey);
    });
  });
});
