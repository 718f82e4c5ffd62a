import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bootSim, SANDBOX, type TestSim } from './helpers.js';

type Opportunity = { id: string; stage: string; updatedAt: number; archived: { archivedAt: number; reason: string } | null; contact: string };
type Page<T> = { data: T[]; hasNext: boolean; next?: string };
const MiB = 1024 * 1024;

describe('Lever API writes on opportunities', () => {
  let sim: TestSim;
  let token: string;
  beforeAll(async () => {
    sim = await bootSim();
  });
  afterAll(() => sim.close());
  beforeEach(async () => {
    await sim.control('POST', '/reset');
    token = (await sim.connect({ sim_account: 'acct_writes' })).accessToken;
  });

  const json = (method: string, body: unknown) => ({ method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const firstOpportunity = async () => ((await (await sim.api('/v1/opportunities?limit=1', token)).json()) as Page<Opportunity>).data[0]!;
  const stages = async () => ((await (await sim.api('/v1/stages', token)).json()) as Page<{ id: string }>).data;
  const readBack = async (id: string) => ((await (await sim.api(`/v1/opportunities/${id}`, token)).json()) as { data: Opportunity }).data;

  describe('PUT /opportunities/:id/stage', () => {
    it('changes the stage, bumps updatedAt on the sim clock and answers the opportunity', async () => {
      const opportunity = await firstOpportunity();
      const target = (await stages()).find((s) => s.id !== opportunity.stage)!;
      await sim.advance(3000); // within the access token's hour
      const before = await sim.simNow();
      const res = await sim.api(`/v1/opportunities/${opportunity.id}/stage`, token, json('PUT', { stage: target.id }));
      expect(res.status).toBe(200);
      const { data } = (await res.json()) as { data: Opportunity };
      expect(data).toMatchObject({ id: opportunity.id, stage: target.id });
      expect(data.updatedAt).toBeGreaterThanOrEqual(before);
      expect(await readBack(opportunity.id)).toEqual(data);
    });

    it('answers 400 for an unknown or missing stage and 404 for an unknown opportunity, changing nothing', async () => {
      const opportunity = await firstOpportunity();
      for (const body of [{ stage: 'no-such-stage' }, {}, { stage: 42 }]) {
        const res = await sim.api(`/v1/opportunities/${opportunity.id}/stage`, token, json('PUT', body));
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(await res.json()).toMatchObject({ code: 'BadRequestError' });
      }
      const [stage] = await stages();
      expect((await sim.api('/v1/opportunities/nope/stage', token, json('PUT', { stage: stage!.id }))).status).toBe(404);
      expect(await readBack(opportunity.id)).toEqual(opportunity);
    });
  });

  describe('PUT /opportunities/:id/archived', () => {
    it('archives with a reason and unarchives with reason null', async () => {
      const opportunity = await firstOpportunity();
      const archived = await sim.api(`/v1/opportunities/${opportunity.id}/archived`, token, json('PUT', { reason: 'reason-hired' }));
      expect(archived.status).toBe(200);
      const { data } = (await archived.json()) as { data: Opportunity };
      expect(data.archived).toEqual({ archivedAt: expect.any(Number), reason: 'reason-hired' });
      expect((await readBack(opportunity.id)).archived).toEqual(data.archived);

      const restored = await sim.api(`/v1/opportunities/${opportunity.id}/archived`, token, json('PUT', { reason: null }));
      expect(restored.status).toBe(200);
      expect(((await restored.json()) as { data: Opportunity }).data.archived).toBeNull();
    });

    it('answers 400 without a reason key or with an empty reason, 404 for an unknown opportunity', async () => {
      const opportunity = await firstOpportunity();
      for (const body of [{}, { reason: '' }, { reason: 7 }]) {
        expect((await sim.api(`/v1/opportunities/${opportunity.id}/archived`, token, json('PUT', body))).status, JSON.stringify(body)).toBe(400);
      }
      expect((await sim.api('/v1/opportunities/nope/archived', token, json('PUT', { reason: null }))).status).toBe(404);
      expect(await readBack(opportunity.id)).toEqual(opportunity);
    });
  });

  describe('notes', () => {
    it('creates a note with 201 and lists it under GET /opportunities/:id/notes', async () => {
      const opportunity = await firstOpportunity();
      const res = await sim.api(`/v1/opportunities/${opportunity.id}/notes`, token, json('POST', { value: 'Strong systems background' }));
      expect(res.status).toBe(201);
      const { data } = (await res.json()) as { data: { id: string; value: string; createdAt: number } };
      expect(data).toEqual({ id: expect.any(String), value: 'Strong systems background', createdAt: expect.any(Number) });
      const listed = (await (await sim.api(`/v1/opportunities/${opportunity.id}/notes`, token)).json()) as Page<unknown>;
      expect(listed).toEqual({ data: [data], hasNext: false });
    });

    it('answers 400 for a missing or blank value and 404 for an unknown opportunity', async () => {
      const opportunity = await firstOpportunity();
      for (const body of [{}, { value: '' }, { value: '   ' }, { value: 3 }]) {
        expect((await sim.api(`/v1/opportunities/${opportunity.id}/notes`, token, json('POST', body))).status, JSON.stringify(body)).toBe(400);
      }
      expect((await sim.api('/v1/opportunities/nope/notes', token, json('POST', { value: 'x' }))).status).toBe(404);
      expect((await sim.api('/v1/opportunities/nope/notes', token)).status).toBe(404);
    });
  });

  describe('POST /opportunities/:id/resumes (multipart)', () => {
    const upload = (id: string, form: FormData, accessToken = token) => sim.api(`/v1/opportunities/${id}/resumes`, accessToken, { method: 'POST', body: form });
    const fileForm = (bytes: Uint8Array, name = 'resume.pdf') => {
      const form = new FormData();
      form.append('file', new Blob([bytes]), name);
      return form;
    };

    it('streams the file part and answers its name, extension, size and sha256', async () => {
      const opportunity = await firstOpportunity();
      const bytes = randomBytes(3 * MiB + 17);
      const form = new FormData();
      form.append('note', 'a field before the file is ignored');
      form.append('other', new Blob([randomBytes(1000)]), 'cover.txt');
      form.append('file', new Blob([bytes]), 'Ada Lovelace.pdf');
      const res = await upload(opportunity.id, form);
      expect(res.status).toBe(201);
      const { data } = (await res.json()) as { data: { id: string; file: Record<string, unknown> } };
      expect(data.file).toEqual({ name: 'Ada Lovelace.pdf', ext: '.pdf', size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
      const listed = (await (await sim.api(`/v1/opportunities/${opportunity.id}/resumes`, token)).json()) as Page<{ id: string }>;
      expect(listed.data.map((r) => r.id)).toEqual([data.id]);
    });

    it('accepts exactly 50 MiB and answers 413 above it', async () => {
      const opportunity = await firstOpportunity();
      const limit = new Uint8Array(50 * MiB);
      const ok = await upload(opportunity.id, fileForm(limit));
      expect(ok.status).toBe(201);
      expect(((await ok.json()) as { data: { file: { size: number } } }).data.file.size).toBe(50 * MiB);
      const tooLarge = await upload(opportunity.id, fileForm(new Uint8Array(50 * MiB + 1)));
      expect(tooLarge.status).toBe(413);
      expect(await tooLarge.json()).toMatchObject({ code: 'PayloadTooLarge' });
      const listed = (await (await sim.api(`/v1/opportunities/${opportunity.id}/resumes`, token)).json()) as Page<unknown>;
      expect(listed.data).toHaveLength(1);
    });

    it('answers 400 without a file part or for a non-multipart body, 404 for an unknown opportunity', async () => {
      const opportunity = await firstOpportunity();
      const fieldsOnly = new FormData();
      fieldsOnly.append('name', 'resume.pdf');
      expect((await upload(opportunity.id, fieldsOnly)).status).toBe(400);
      expect((await sim.api(`/v1/opportunities/${opportunity.id}/resumes`, token, json('POST', { file: 'x' }))).status).toBe(400);
      expect((await upload('nope', fileForm(randomBytes(10)))).status).toBe(404);
    });
  });

  describe('go through the same path as every API call', () => {
    it('need a token, take faults, spend the account bucket and are counted', async () => {
      const opportunity = await firstOpportunity();
      const [stage] = (await stages()).filter((s) => s.id !== opportunity.stage);
      const put = (accessToken: string | undefined) => sim.api(`/v1/opportunities/${opportunity.id}/stage`, accessToken, json('PUT', { stage: stage!.id }));
      expect((await put(undefined)).status).toBe(401);
      await sim.fault({ target: 'api', kind: '503', matchAccount: 'acct_writes' });
      expect((await put(token)).status).toBe(503);
      expect((await readBack(opportunity.id)).stage).toBe(opportunity.stage);
      expect((await put(token)).status).toBe(200);
      const stats = await sim.apiStats();
      expect(stats.accounts).toMatchObject({ 'production:acct_writes': { '200': 4, '503': 1 }, unknown: { '401': 1 } });
      expect((await sim.stats()).apiCalls).toBe(6);
    });

    it('share the account bucket with reads', async () => {
      const limited = await bootSim({ rateLimits: { api: { ratePerSecond: 0.01, burst: 1 } } });
      try {
        const { accessToken } = await limited.connect();
        expect((await limited.api('/v1/opportunities?limit=1', accessToken)).status).toBe(200);
        const res = await limited.api('/v1/opportunities/any/notes', accessToken, json('POST', { value: 'x' }));
        expect(res.status).toBe(429);
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      } finally {
        await limited.close();
      }
    });

    it('work on the sandbox mount with a sandbox token', async () => {
      const sandbox = (await sim.connect({ sim_account: 'acct_writes', audience: SANDBOX })).accessToken;
      const page = (await (await sim.api('/sandbox/v1/opportunities?limit=1', sandbox)).json()) as Page<Opportunity>;
      const res = await sim.api(`/sandbox/v1/opportunities/${page.data[0]!.id}/notes`, sandbox, json('POST', { value: 'sandbox note' }));
      expect(res.status).toBe(201);
      expect((await sim.api(`/v1/opportunities/${page.data[0]!.id}/notes`, sandbox, json('POST', { value: 'x' }))).status).toBe(401);
    });
  });
});
