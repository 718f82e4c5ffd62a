import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { freePort } from '@lever-connect/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectLever } from '../../../test/support/connect-flow.js';
import { bearer, buildTestApp, type TestApp } from './helpers.js';

/**
 * Lever's own webhooks over HTTP: subscribing through Lever's Webhooks API (the simulator's), and the
 * public receiving route: Lever's signature in the body, one event per Lever `token`, nothing stored for a
 * delivery that is not Lever's.
 */
describe("Lever's webhooks: subscribing and receiving", () => {
  let t: TestApp;
  let sim: { url: string };
  let base: string;

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    t = await buildTestApp({ PUBLIC_BASE_URL: base, LEVER_WEBHOOK_EVENTS: 'candidateStageChange,applicationCreated' }, { sim: true, simEnv: { SIM_AUTO_APPROVE: '1' } });
    sim = t.sim!;
    await t.app.listen({ port, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await t?.close();
  });

  const simWebhooks = async (account: string) =>
    ((await (await fetch(`${sim.url}/__sim/webhooks`)).json()) as Array<{ id: string; account: string; url: string; event: string; enabled: boolean }>).filter(
      (w) => w.account === account,
    );
  const api = (method: string, path: string, body?: unknown, key = t.adminKey) =>
    fetch(base + path, { method, headers: { ...bearer(key), ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

  /** A connection subscribed to both events at the simulator, with each subscription's id and signature token. */
  async function subscribed(tenant: string) {
    const account = `acct_${tenant}`;
    const outcome = await connectLever({ apiUrl: base, apiKey: t.adminKey, tenant, simAccount: account });
    const id = outcome.result.connectionId!;
    const reconciled = await api('POST', `/v1/connections/${id}/lever-webhooks/reconcile`);
    expect(reconciled.status).toBe(200);
    const rows = await t.db.db.prisma.leverWebhookSubscription.findMany({ where: { connectionId: id } });
    const subs = rows.map((r) => ({ id: r.id, event: r.event, token: t.core.cipher.decrypt(r.signatureTokenCiphertext!, { row: r.id, column: 'signatureToken' }) }));
    return { id, account, subs };
  }

  const delivery = (signatureToken: string, event: string, overrides: Record<string, unknown> = {}) => {
    const token = randomBytes(16).toString('hex');
    const triggeredAt = Date.now();
    return { token, triggeredAt, event, signature: createHmac('sha256', signatureToken).update(`${token}${triggeredAt}`).digest('hex'), data: { opportunityId: 'o1' }, ...overrides };
  };
  const post = (subscriptionId: string, body: unknown) =>
    fetch(`${base}/lever/webhooks/${subscriptionId}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const leverEvents = (connectionId: string) => t.db.db.prisma.event.count({ where: { connectionId, type: { startsWith: 'lever.' } } });

  it('subscribes a new connection at Lever: one webhook per configured event, pointing at us, with the webhooks scope asked for', async () => {
    const { id, account, subs } = await subscribed('lw-subscribe');
    const atLever = await simWebhooks(account);
    expect(atLever.map((w) => w.event).sort()).toEqual(['applicationCreated', 'candidateStageChange']);
    for (const w of atLever) expect(w.url).toMatch(new RegExp(`^${base}/lever/webhooks/[0-9a-f-]{36}$`));
    expect(new Set(atLever.map((w) => w.url))).toEqual(new Set(subs.map((s) => `${base}/lever/webhooks/${s.id}`)));
    const listed = (await (await api('GET', `/v1/connections/${id}/lever-webhooks`)).json()) as { data: Array<{ event: string; state: string; leverWebhookId: string }> };
    expect(listed.data.map((s) => [s.event, s.state])).toEqual([
      ['applicationCreated', 'active'],
      ['candidateStageChange', 'active'],
    ]);
    expect(JSON.stringify(listed)).not.toContain(subs[0]!.token);
    // Reconciling again changes nothing: no duplicates at Lever.
    expect(await (await api('POST', `/v1/connections/${id}/lever-webhooks/reconcile`)).json()).toMatchObject({ created: 0, deleted: 0, enabled: 0 });
    expect(await simWebhooks(account)).toHaveLength(2);
  });

  it('stores a signed delivery once, however often Lever retries it, and answers 200', async () => {
    const { id, subs } = await subscribed('lw-receive');
    const sub = subs.find((s) => s.event === 'candidateStageChange')!;
    const body = delivery(sub.token, 'candidateStageChange');
    const first = await post(sub.id, body);
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ received: true, duplicate: false });
    const again = await post(sub.id, body);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ received: true, duplicate: true });
    const events = await t.db.db.prisma.event.findMany({ where: { connectionId: id, type: 'lever.candidateStageChange' } });
    expect(events).toHaveLength(1);
    expect(events[0]!.data).toEqual({
      connection: { id, tenant: { externalId: 'lw-receive' }, environment: 'production' },
      lever: { event: 'candidateStageChange', triggeredAt: body.triggeredAt, data: { opportunityId: 'o1' } },
    });
  });

  it('refuses what is not Lever\'s, storing nothing: forged signature, another webhook\'s token, unknown subscription, malformed, oversized', async () => {
    const { id, subs } = await subscribed('lw-refuse');
    const [a, b] = subs;
    const before = await leverEvents(id);
    const forged = { ...delivery(a!.token, a!.event), signature: 'ab'.repeat(32) };
    expect((await post(a!.id, forged)).status).toBe(401);
    expect(await (await post(a!.id, forged)).json()).toMatchObject({ error: { code: 'lever_webhook_signature_invalid' } });
    expect((await post(a!.id, delivery(b!.token, a!.event))).status).toBe(401); // signed with the other webhook's token
    expect((await post(randomUUID(), delivery(a!.token, a!.event))).status).toBe(404);
    expect((await post('not-a-subscription', delivery(a!.token, a!.event))).status).toBe(404);
    const { token: _token, ...noToken } = delivery(a!.token, a!.event);
    expect((await post(a!.id, noToken)).status).toBe(400);
    expect((await post(a!.id, '{"token":')).status).toBe(400);
    expect((await post(a!.id, delivery(a!.token, b!.event))).status).toBe(400); // another event than this webhook's
    const oversized = await post(a!.id, { ...delivery(a!.token, a!.event), data: { blob: 'x'.repeat(1024 * 1024 + 10) } });
    expect(oversized.status).toBe(413);
    expect(await leverEvents(id)).toBe(before);
  });

  it('marks subscriptions failed, and says so once with connection.lever_webhooks_failed, when Lever refuses them for good (403: no webhooks scope)', async () => {
    // A deployment without LEVER_WEBHOOK_EVENTS: its grants lack the webhooks scope.
    const port = await freePort();
    const other = await buildTestApp({ PUBLIC_BASE_URL: `http://127.0.0.1:${port}` }, { sim: true, simEnv: { SIM_AUTO_APPROVE: '1' } });
    try {
      await other.app.listen({ port, host: '127.0.0.1' });
      const outcome = await connectLever({ apiUrl: `http://127.0.0.1:${port}`, apiKey: other.adminKey, tenant: 'lw-no-scope', simAccount: 'acct_lw_no_scope' });
      const id = outcome.result.connectionId!;
      // Then the connection wants Lever's events (e.g. the deployment turned them on): Lever says 403.
      await other.db.db.prisma.connection.update({ where: { id }, data: { leverWebhookEvents: ['candidateHired', 'applicationCreated'] } });
      const reconcile = () => other.app.inject({ method: 'POST', url: `/v1/connections/${id}/lever-webhooks/reconcile`, headers: bearer(other.adminKey) });
      const first = await reconcile();
      expect(first.statusCode).toBe(200);
      expect(first.json()).toMatchObject({ failed: 2 });
      expect(first.json().data.map((s: { state: string; failureReason: string }) => [s.state, s.failureReason.includes('403')])).toEqual([
        ['failed', true],
        ['failed', true],
      ]);
      expect((await reconcile()).json()).toMatchObject({ failed: 2 });
      const events = await other.db.db.prisma.event.findMany({ where: { connectionId: id, type: 'connection.lever_webhooks_failed' } });
      expect(events).toHaveLength(2); // once per subscription, not once per attempt
    } finally {
      await other.close();
    }
  });
});
