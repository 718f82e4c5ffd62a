import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bootSim, SANDBOX, type TestSim } from './helpers.js';

const WRITE = 'offline_access webhooks:write:admin';
const READ = 'offline_access webhooks:read:admin';
const HOOK = { url: 'https://hooks.example/lever', event: 'candidateStageChange' };

type WebhookData = { id: string; url: string; event: string; enabled: boolean; configuration: unknown; createdAt: number; signatureToken?: string };
type Page = { data: WebhookData[]; hasNext: boolean; next?: string };

describe('Webhooks Subscription API (/webhooks)', () => {
  let sim: TestSim;
  beforeAll(async () => {
    sim = await bootSim();
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.control('POST', '/reset'));

  const send = (path: string, token: string | undefined, method: string, body?: unknown) =>
    sim.api(path, token, body === undefined ? { method } : { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const create = async (token: string, body: unknown = HOOK, base = '/v1') => {
    const res = await send(`${base}/webhooks`, token, 'POST', body);
    return { status: res.status, body: (await res.json()) as { data: WebhookData } & { code?: string; message?: string } };
  };
  const listAll = async (token: string, base = '/v1') => ((await (await sim.api(`${base}/webhooks`, token)).json()) as Page).data;

  it('creates a webhook with 201, and the signature token is in that answer only', async () => {
    const { accessToken } = await sim.connect({ scope: WRITE });
    const created = await create(accessToken, { ...HOOK, configuration: { conditions: { stages: ['stage-1'] } } });
    expect(created.status).toBe(201);
    expect(created.body.data).toEqual({
      id: expect.any(String),
      url: HOOK.url,
      event: HOOK.event,
      enabled: true,
      configuration: { conditions: { stages: ['stage-1'] } },
      createdAt: expect.any(Number),
      signatureToken: expect.stringMatching(/^[0-9a-f]{32,}$/),
    });
    const { signatureToken, ...rest } = created.body.data;

    expect(await listAll(accessToken)).toEqual([rest]);
    const updated = await send(`/v1/webhooks/${rest.id}`, accessToken, 'PUT', { enabled: false });
    expect(((await updated.json()) as { data: WebhookData }).data).toEqual({ ...rest, enabled: false });
    const everywhere = JSON.stringify([await sim.control('GET', '/webhooks'), await sim.control('GET', '/webhooks/deliveries')]);
    expect(everywhere).not.toContain(signatureToken);
    expect(await sim.stats()).toMatchObject({ webhooksCreated: 1 });
  });

  it('lists with Lever paging', async () => {
    const { accessToken } = await sim.connect({ scope: WRITE });
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await create(accessToken, { ...HOOK, url: `https://hooks.example/${i}` })).body.data.id);
    const first = (await (await sim.api('/v1/webhooks?limit=2', accessToken)).json()) as Page;
    expect(first.hasNext).toBe(true);
    const second = (await (await sim.api(`/v1/webhooks?limit=2&offset=${first.next}`, accessToken)).json()) as Page;
    expect(second).toEqual({ data: [expect.objectContaining({ id: ids[2] })], hasNext: false });
    expect(first.data.map((w) => w.id)).toEqual(ids.slice(0, 2));
  });

  it('updates url, enabled and configuration, refuses to change the event, and deletes with 204', async () => {
    const { accessToken } = await sim.connect({ scope: WRITE });
    const { id } = (await create(accessToken)).body.data;
    const res = await send(`/v1/webhooks/${id}`, accessToken, 'PUT', { url: 'https://other.example/hook', configuration: { conditions: { origins: ['applied'] } } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { data: WebhookData }).data).toMatchObject({ url: 'https://other.example/hook', configuration: { conditions: { origins: ['applied'] } } });
    const refused = await send(`/v1/webhooks/${id}`, accessToken, 'PUT', { event: 'candidateHired' });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ code: 'BadRequestError' });

    const deleted = await send(`/v1/webhooks/${id}`, accessToken, 'DELETE');
    expect(deleted.status).toBe(204);
    expect(await deleted.text()).toBe('');
    expect(await listAll(accessToken)).toEqual([]);
    expect((await send(`/v1/webhooks/${id}`, accessToken, 'DELETE')).status).toBe(404);
    expect((await send(`/v1/webhooks/${id}`, accessToken, 'PUT', { enabled: true })).status).toBe(404);
    expect(await sim.stats()).toMatchObject({ webhooksCreated: 1, webhooksDeleted: 1 });
  });

  it('checks the scope claim: listing needs webhooks:read:admin or :write, changes need :write', async () => {
    const writer = (await sim.connect({ scope: WRITE })).accessToken;
    const reader = (await sim.connect({ scope: READ })).accessToken;
    const neither = (await sim.connect({ scope: 'offline_access opportunities:read:admin' })).accessToken;
    const { id } = (await create(writer)).body.data;

    expect((await sim.api('/v1/webhooks', writer)).status).toBe(200);
    expect((await sim.api('/v1/webhooks', reader)).status).toBe(200);
    const refusedList = await sim.api('/v1/webhooks', neither);
    expect(refusedList.status).toBe(403);
    expect(await refusedList.json()).toEqual({ code: 'Forbidden', message: expect.stringContaining('webhooks:read:admin') });

    for (const res of [
      await send('/v1/webhooks', reader, 'POST', HOOK),
      await send(`/v1/webhooks/${id}`, reader, 'PUT', { enabled: false }),
      await send(`/v1/webhooks/${id}`, reader, 'DELETE'),
    ]) {
      expect(res.status).toBe(403);
      expect(await res.json()).toEqual({ code: 'Forbidden', message: expect.stringContaining('webhooks:write:admin') });
    }
    expect(await listAll(writer)).toEqual([expect.objectContaining({ id, enabled: true })]);
  });

  it('accepts only the ten Lever events', async () => {
    const { accessToken } = await sim.connect({ scope: WRITE });
    const events = ['applicationCreated', 'candidateHired', 'candidateStageChange', 'candidateArchiveChange', 'candidateDeleted',
      'interviewCreated', 'interviewUpdated', 'interviewDeleted', 'contactCreated', 'contactUpdated'];
    for (const event of events) expect((await create(accessToken, { ...HOOK, event })).status, event).toBe(201);
    for (const event of ['opportunityCreated', 'CandidateHired', '', undefined]) {
      const res = await create(accessToken, { url: HOOK.url, event });
      expect(res.status, String(event)).toBe(400);
      expect(res.body.code).toBe('BadRequestError');
    }
  });

  it('accepts https always and http only while allowHttpWebhooks is on (the default outside production)', async () => {
    const { accessToken } = await sim.connect({ scope: WRITE });
    expect((await create(accessToken, { ...HOOK, url: 'http://127.0.0.1:8080/hook' })).status).toBe(201);
    const strict = await bootSim({ allowHttpWebhooks: false });
    try {
      const token = (await strict.connect({ scope: WRITE })).accessToken;
      const post = (url: string) => strict.api('/v1/webhooks', token, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...HOOK, url }) });
      const refused = await post('http://127.0.0.1:8080/hook');
      expect(refused.status).toBe(400);
      expect(await refused.json()).toEqual({ code: 'BadRequestError', message: 'url must use https' });
      expect((await post('https://hooks.example/ok')).status).toBe(201);
      const admin = await fetch(`${strict.url}/__sim/webhooks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ account: 'acct_default', url: 'http://127.0.0.1:8080/hook', event: 'candidateHired' }),
      });
      expect(admin.status).toBe(400);
    } finally {
      await strict.close();
    }
  });

  it('lists webhooks an admin created in Lever settings but refuses to change or delete them (403)', async () => {
    const { accessToken } = await sim.connect({ scope: WRITE });
    const admin = await sim.control<WebhookData & { account: string; environment: string }>('POST', '/webhooks', {
      account: 'acct_default',
      environment: 'production',
      url: 'https://hooks.example/admin',
      event: 'candidateHired',
    });
    expect(admin).toMatchObject({ account: 'acct_default', environment: 'production', enabled: true, signatureToken: expect.any(String) });
    expect(await listAll(accessToken)).toEqual([expect.objectContaining({ id: admin.id, url: 'https://hooks.example/admin' })]);
    for (const res of [await send(`/v1/webhooks/${admin.id}`, accessToken, 'PUT', { enabled: false }), await send(`/v1/webhooks/${admin.id}`, accessToken, 'DELETE')]) {
      expect(res.status).toBe(403);
      expect(await res.json()).toMatchObject({ code: 'Forbidden' });
    }
    expect(await sim.control('GET', '/webhooks')).toEqual([expect.objectContaining({ id: admin.id, enabled: true, createdVia: 'admin' })]);
  });

  it('keeps webhooks per account and environment', async () => {
    const mine = (await sim.connect({ scope: WRITE, sim_account: 'acct_mine' })).accessToken;
    const theirs = (await sim.connect({ scope: WRITE, sim_account: 'acct_theirs' })).accessToken;
    const sandbox = (await sim.connect({ scope: WRITE, sim_account: 'acct_mine', audience: SANDBOX })).accessToken;
    const { id } = (await create(mine)).body.data;
    expect(await listAll(theirs)).toEqual([]);
    expect(await listAll(sandbox, '/sandbox/v1')).toEqual([]);
    expect((await send(`/v1/webhooks/${id}`, theirs, 'DELETE')).status).toBe(404);
    expect((await send(`/sandbox/v1/webhooks/${id}`, sandbox, 'DELETE')).status).toBe(404);
    expect((await create(sandbox, HOOK, '/sandbox/v1')).status).toBe(201);
    expect(await sim.control('GET', '/webhooks')).toEqual([
      expect.objectContaining({ id, account: 'acct_mine', environment: 'production' }),
      expect.objectContaining({ account: 'acct_mine', environment: 'sandbox' }),
    ]);
  });

  it('goes through the same path as every API call: token, faults, the bucket, the counts', async () => {
    const { accessToken } = await sim.connect({ scope: WRITE, sim_account: 'acct_hooks' });
    expect((await sim.api('/v1/webhooks', undefined)).status).toBe(401);
    await sim.fault({ target: 'api', kind: '503', matchAccount: 'acct_hooks' });
    expect((await create(accessToken)).status).toBe(503);
    expect(await listAll(accessToken)).toEqual([]);
    expect((await sim.apiStats()).accounts).toEqual({ 'production:acct_hooks': { '200': 1, '503': 1 }, unknown: { '401': 1 } });

    const limited = await bootSim({ rateLimits: { api: { ratePerSecond: 0.01, burst: 1 } } });
    try {
      const token = (await limited.connect({ scope: WRITE })).accessToken;
      expect((await limited.api('/v1/webhooks', token)).status).toBe(200);
      expect((await limited.api('/v1/webhooks', token)).status).toBe(429);
    } finally {
      await limited.close();
    }
  });
});
