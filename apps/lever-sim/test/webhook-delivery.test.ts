import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bootSim, waitUntil, type TestSim } from './helpers.js';
import { startReceiver, verifyLeverSignature, type Receiver, type Respond } from './webhook-receiver.js';

const WRITE = 'offline_access webhooks:write:admin opportunities:write:admin';
/** Increasing, as Lever's, but in ms instead of minutes. */
const DELAYS = [20, 40, 60, 80, 100];

type Delivery = { id: string; webhookId: string; event: string; token: string; triggeredAt: number; attempts: number; lastStatus: number | null; lastError?: string; delivered: boolean; state: string };
type Page = { data: Array<{ id: string; stage: string; contact: string; archived: unknown }> };

describe('Lever webhook deliveries', () => {
  let sim: TestSim;
  let receiver: Receiver | undefined;
  let token: string;
  let respond: Respond;

  beforeAll(async () => {
    sim = await bootSim({ webhookRetryDelaysMs: DELAYS, webhookTimeoutMs: 300 });
  });
  afterAll(() => sim.close());
  beforeEach(async () => {
    await sim.control('POST', '/reset');
    respond = () => 200;
    receiver = await startReceiver((index, received) => respond(index, received));
    token = (await sim.connect({ scope: WRITE, sim_account: 'acct_hooks' })).accessToken;
  });
  afterEach(async () => {
    await sim.control('POST', '/reset'); // stops pending retries before the receiver goes
    await receiver?.close();
  });

  const json = (method: string, body: unknown) => ({ method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  async function subscribe(event: string, url = receiver!.url) {
    const res = await sim.api('/v1/webhooks', token, json('POST', { url, event }));
    expect(res.status).toBe(201);
    return ((await res.json()) as { data: { id: string; signatureToken: string } }).data;
  }
  const deliveries = () => sim.control<Delivery[]>('GET', '/webhooks/deliveries');
  const settled = (count: number) =>
    waitUntil(async () => {
      const all = await deliveries();
      return all.length >= count && all.every((d) => d.state !== 'pending');
    }, `${count} settled deliveries`);
  const firstOpportunity = async () => ((await (await sim.api('/v1/opportunities?limit=1', token)).json()) as Page).data[0]!;
  const emit = (event: string, data?: Record<string, unknown>) => sim.control<{ deliveries: Delivery[] }>('POST', '/webhooks/emit', { account: 'acct_hooks', environment: 'production', event, ...(data ? { data } : {}) });

  it('signs a candidateStageChange from PUT .../stage as Lever does, verifiable by an integrator', async () => {
    const webhook = await subscribe('candidateStageChange');
    const opportunity = await firstOpportunity();
    const stages = ((await (await sim.api('/v1/stages', token)).json()) as Page).data;
    const target = stages.find((s) => s.id !== opportunity.stage)!;
    const before = await sim.simNow();
    expect((await sim.api(`/v1/opportunities/${opportunity.id}/stage`, token, json('PUT', { stage: target.id }))).status).toBe(200);

    await receiver!.waitFor(1);
    const [delivery] = receiver!.received;
    expect(delivery!.headers['content-type']).toMatch(/^application\/json/);
    expect(delivery!.body).toEqual({
      token: expect.any(String),
      triggeredAt: expect.any(Number),
      signature: expect.stringMatching(/^[0-9a-f]{64}$/),
      event: 'candidateStageChange',
      data: { opportunityId: opportunity.id, toStageId: target.id, fromStageId: opportunity.stage, contactId: opportunity.contact },
    });
    expect(delivery!.body.triggeredAt).toBeGreaterThanOrEqual(before);
    expect(verifyLeverSignature(delivery!.body, webhook.signatureToken)).toBe(true);
    expect(verifyLeverSignature({ ...delivery!.body, triggeredAt: delivery!.body.triggeredAt + 1 }, webhook.signatureToken)).toBe(false);
    expect(verifyLeverSignature(delivery!.body, 'another-webhooks-token')).toBe(false);

    await settled(1);
    expect(await deliveries()).toEqual([
      { id: expect.any(String), webhookId: webhook.id, event: 'candidateStageChange', token: delivery!.body.token, triggeredAt: delivery!.body.triggeredAt, attempts: 1, lastStatus: 200, delivered: true, state: 'delivered' },
    ]);
    expect(await sim.stats()).toMatchObject({ webhookDeliveries: 1, webhookDeliveriesOk: 1, webhookDeliveriesFailed: 0, webhookDeliveriesGivenUp: 0 });
  });

  it('emits applicationCreated and candidateArchiveChange from the API writes, each to its subscribers only', async () => {
    await subscribe('applicationCreated');
    await subscribe('candidateArchiveChange');
    await subscribe('candidateHired'); // never triggered here
    const opportunity = await firstOpportunity();
    const applied = await sim.api(`/v1/opportunities/${opportunity.id}/applications`, token, json('POST', {}));
    const application = ((await applied.json()) as { data: { id: string } }).data;
    // A second of sim time between the writes orders their events by triggeredAt.
    await sim.advance(1);
    await sim.api(`/v1/opportunities/${opportunity.id}/archived`, token, json('PUT', { reason: 'reason-1' }));
    await sim.api(`/v1/opportunities/${opportunity.id}/archived`, token, json('PUT', { reason: 'reason-1' })); // no change, no event
    await sim.advance(1);
    await sim.api(`/v1/opportunities/${opportunity.id}/archived`, token, json('PUT', { reason: null }));

    await receiver!.waitFor(3);
    await settled(3);
    const bodies = receiver!.received.map((r) => r.body).sort((a, b) => a.triggeredAt - b.triggeredAt);
    const archivedAt = (bodies.find((b) => b.event === 'candidateArchiveChange' && b.data.toArchived)!.data.toArchived as { archivedAt: number }).archivedAt;
    expect(bodies.map((b) => ({ event: b.event, data: b.data }))).toEqual([
      { event: 'applicationCreated', data: { opportunityId: opportunity.id, applicationId: application.id, contactId: opportunity.contact, postingId: null } },
      { event: 'candidateArchiveChange', data: { opportunityId: opportunity.id, toArchived: { archivedAt, reason: 'reason-1' }, fromArchived: opportunity.archived, contactId: opportunity.contact } },
      { event: 'candidateArchiveChange', data: { opportunityId: opportunity.id, toArchived: null, fromArchived: { archivedAt, reason: 'reason-1' }, contactId: opportunity.contact } },
    ]);
    expect(new Set(bodies.map((b) => b.token)).size).toBe(3);
  });

  it('emits any of the ten events from the control plane, only to enabled webhooks of that account and environment', async () => {
    const webhook = await subscribe('contactUpdated');
    await subscribe('contactCreated');
    const disabled = await subscribe('contactUpdated');
    expect((await sim.api(`/v1/webhooks/${disabled.id}`, token, json('PUT', { enabled: false }))).status).toBe(200);
    await sim.control('POST', '/webhooks', { account: 'acct_other', environment: 'production', url: receiver!.url, event: 'contactUpdated' });
    await sim.control('POST', '/webhooks', { account: 'acct_hooks', environment: 'sandbox', url: receiver!.url, event: 'contactUpdated' });

    const { deliveries: started } = await emit('contactUpdated', { contactId: 'contact-1' });
    expect(started).toEqual([expect.objectContaining({ webhookId: webhook.id, event: 'contactUpdated', state: 'pending' })]);
    await settled(1);
    expect(receiver!.received.map((r) => r.body.data)).toEqual([{ contactId: 'contact-1' }]);
    expect((await emit('candidateDeleted')).deliveries).toEqual([]);
    const refused = await fetch(`${sim.url}/__sim/webhooks/emit`, { ...json('POST', { account: 'acct_hooks', event: 'opportunityCreated' }) });
    expect(refused.status).toBe(400);
  });

  it('retries a failed delivery with increasing delays and the same token and signature, until it succeeds', async () => {
    const webhook = await subscribe('candidateHired');
    respond = (index) => [500, 503, 404, 200][index] ?? 200;
    await emit('candidateHired', { opportunityId: 'o-1' });
    await settled(1);
    expect(await deliveries()).toEqual([expect.objectContaining({ attempts: 4, lastStatus: 200, delivered: true, state: 'delivered' })]);
    const received = receiver!.received;
    expect(received).toHaveLength(4);
    expect(new Set(received.map((r) => r.raw)).size).toBe(1); // the same bytes every time
    expect(received.every((r) => verifyLeverSignature(r.body, webhook.signatureToken))).toBe(true);
    const gaps = received.slice(1).map((r, i) => r.at - received[i]!.at);
    gaps.forEach((gap, i) => expect(gap, `gap before retry ${i + 1}`).toBeGreaterThanOrEqual(DELAYS[i]! - 5));
    expect(await sim.stats()).toMatchObject({ webhookDeliveries: 4, webhookDeliveriesOk: 1, webhookDeliveriesFailed: 3, webhookDeliveriesGivenUp: 0, webhooksDisabled: 0 });
  });

  it('counts a receiver that does not answer within the timeout as a failure', async () => {
    await subscribe('candidateHired');
    respond = (index) => (index === 0 ? 'hang' : 204);
    await emit('candidateHired');
    await settled(1);
    expect(await deliveries()).toEqual([expect.objectContaining({ attempts: 2, lastStatus: 204, delivered: true })]);
    expect(receiver!.received[1]!.at - receiver!.received[0]!.at).toBeGreaterThanOrEqual(300 + DELAYS[0]! - 20);
    expect(await sim.stats()).toMatchObject({ webhookDeliveriesFailed: 1, webhookDeliveriesOk: 1 });
  });

  it('gives up after 5 retries, and on connection errors too', async () => {
    await subscribe('candidateHired');
    respond = () => 500;
    const closed = await startReceiver();
    const unreachable = closed.url;
    await closed.close();
    await subscribe('candidateHired', unreachable);
    await emit('candidateHired');
    await settled(2);
    const all = await deliveries();
    expect(all).toEqual([
      expect.objectContaining({ attempts: 6, lastStatus: 500, delivered: false, state: 'given_up' }),
      expect.objectContaining({ attempts: 6, lastStatus: null, lastError: expect.stringMatching(/^connection_error/), delivered: false, state: 'given_up' }),
    ]);
    expect(receiver!.received).toHaveLength(6);
    expect(await sim.stats()).toMatchObject({ webhookDeliveries: 12, webhookDeliveriesOk: 0, webhookDeliveriesFailed: 12, webhookDeliveriesGivenUp: 2, webhooksDisabled: 0 });
    // One give-up is not "keeps failing": both webhooks stay enabled.
    expect((await sim.control<Array<{ enabled: boolean }>>('GET', '/webhooks')).map((w) => w.enabled)).toEqual([true, true]);
  });

  it('disables a webhook silently after 3 given-up deliveries in a row; a success in between resets the count', async () => {
    const webhook = await subscribe('candidateHired');
    let failing = true;
    respond = () => (failing ? 500 : 200);
    await Promise.all([emit('candidateHired'), emit('candidateHired')]);
    await settled(2);
    failing = false;
    await emit('candidateHired');
    await settled(3);
    failing = true;
    await Promise.all([emit('candidateHired'), emit('candidateHired')]);
    await settled(5);
    const listed = async () => ((await (await sim.api('/v1/webhooks', token)).json()) as { data: Array<{ enabled: boolean }> }).data[0]!;
    expect(await listed()).toMatchObject({ enabled: true });

    await emit('candidateHired');
    await settled(6);
    expect(await listed()).toMatchObject({ enabled: false });
    expect(await sim.control('GET', '/webhooks')).toEqual([expect.objectContaining({ id: webhook.id, enabled: false, consecutiveGiveUps: 3, disabledAt: expect.any(Number) })]);
    expect((await sim.stats()).webhooksDisabled).toBe(1);

    // Nothing more goes to it until its owner switches it back on.
    expect((await emit('candidateHired')).deliveries).toEqual([]);
    failing = false;
    expect((await sim.api(`/v1/webhooks/${webhook.id}`, token, json('PUT', { enabled: true }))).status).toBe(200);
    expect((await emit('candidateHired')).deliveries).toHaveLength(1);
    await settled(7);
    expect((await deliveries()).at(-1)).toMatchObject({ delivered: true });
  });

  it('stops the pending retries of a webhook that is deleted', async () => {
    const webhook = await subscribe('candidateHired');
    respond = () => 500;
    await emit('candidateHired');
    await waitUntil(async () => (await deliveries())[0]?.lastStatus === 500, 'a first failed attempt');
    expect((await sim.api(`/v1/webhooks/${webhook.id}`, token, { method: 'DELETE' })).status).toBe(204);
    await settled(1);
    const [delivery] = await deliveries();
    expect(delivery).toMatchObject({ state: 'cancelled', delivered: false });
    expect(receiver!.received).toHaveLength(delivery!.attempts);
  });

  it('reset forgets deliveries and cancels the pending retries', async () => {
    const slow = await bootSim({ webhookRetryDelaysMs: [150] });
    try {
      const own = (await slow.connect({ scope: WRITE })).accessToken;
      const res = await slow.api('/v1/webhooks', own, json('POST', { url: receiver!.url, event: 'candidateHired' }));
      expect(res.status).toBe(201);
      respond = () => 500;
      await slow.control('POST', '/webhooks/emit', { account: 'acct_default', event: 'candidateHired' });
      await waitUntil(async () => (await slow.control<Delivery[]>('GET', '/webhooks/deliveries'))[0]?.lastStatus === 500, 'a first failed attempt');
      await slow.control('POST', '/reset');
      expect(await slow.control('GET', '/webhooks/deliveries')).toEqual([]);
      expect(await slow.control('GET', '/webhooks')).toEqual([]);
      expect(await slow.stats()).toMatchObject({ webhookDeliveries: 0, webhooksCreated: 0 });
      // Proving an absence needs a wait: twice the retry delay, and the retry never came.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(receiver!.received).toHaveLength(1);
    } finally {
      await slow.close();
    }
  });

  it('never makes the API answer wait for a receiver, and app.close() stops a delivery in flight at once', async () => {
    const patient = await bootSim({ webhookTimeoutMs: 30_000 });
    const hanging = await startReceiver(() => 'hang');
    try {
      const own = (await patient.connect({ scope: WRITE })).accessToken;
      await patient.api('/v1/webhooks', own, json('POST', { url: hanging.url, event: 'applicationCreated' }));
      const [opportunity] = ((await (await patient.api('/v1/opportunities?limit=1', own)).json()) as Page).data;
      const started = Date.now();
      expect((await patient.api(`/v1/opportunities/${opportunity!.id}/applications`, own, json('POST', {}))).status).toBe(201);
      expect(Date.now() - started).toBeLessThan(1_000);
      await hanging.waitFor(1);
      await waitUntil(async () => (await patient.control<Delivery[]>('GET', '/webhooks/deliveries'))[0]?.attempts === 1, 'the attempt in flight');
      const closing = Date.now();
      await patient.close();
      expect(Date.now() - closing).toBeLessThan(1_000);
      // The sim hung up on the receiver instead of waiting out its 30 s timeout.
      await waitUntil(() => hanging.received[0]!.abandoned === true, 'the receiver seeing the request dropped', 2_000);
    } finally {
      await patient.close();
      await hanging.close();
    }
  });
});
