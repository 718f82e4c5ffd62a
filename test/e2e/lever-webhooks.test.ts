import { createServer, type Server } from 'node:http';
import { APP_ENTRIES, startApp, waitFor } from '@lever-connect/testing';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectLever } from '../support/connect-flow.js';
import { startOwnPostgres, type OwnPostgres } from '../support/servers.js';
import { startStack, type Stack } from '../support/stack.js';

interface Received {
  type: string;
  data: { connection: { id: string; tenant: { externalId: string }; environment: string }; lever: { event: string; triggeredAt: number; data: Record<string, unknown> } };
}

/** The operator's receiver: verifies every delivery with the Standard Webhooks reference library. */
async function startReceiver(secret: () => string) {
  const received: Received[] = [];
  const refused: string[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      try {
        received.push(new Webhook(secret()).verify(body, req.headers as Record<string, string>) as Received);
        res.writeHead(204).end();
      } catch (error) {
        refused.push(String(error));
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hooks`, received, refused, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/**
 * Lever's own webhooks across real processes (api, worker, the simulator playing Lever): subscribed on
 * connect, a stage change made through the proxy reaching the operator as a signed `lever.*` event, Lever's
 * retries carrying deliveries over an api or Postgres outage exactly once, and the subscriptions following
 * disconnects and reconnects.
 */
describe("Lever's webhooks end to end", () => {
  let pg: OwnPostgres;
  let stack: Stack;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let secret = '';
  const admin = () => ({ authorization: `Bearer ${stack.adminKey}`, 'content-type': 'application/json' });
  const adminNoBody = () => ({ authorization: `Bearer ${stack.adminKey}` });
  const sim = () => stack.sim.url;
  const simWebhooks = async (account: string) =>
    ((await (await fetch(`${sim()}/__sim/webhooks`)).json()) as Array<{ account: string; url: string; event: string; enabled: boolean }>).filter((w) => w.account === account);
  const lever = (id: string, method: string, path: string, body?: unknown) =>
    fetch(`${stack.api.url}/v1/connections/${id}/lever/${path}`, { method, headers: body === undefined ? adminNoBody() : admin(), ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

  beforeAll(async () => {
    // A Postgres of our own: one test stops it.
    pg = await startOwnPostgres();
    stack = await startStack({
      pgAdminUrl: pg.adminUrl,
      env: { LEVER_WEBHOOK_EVENTS: 'candidateStageChange,applicationCreated', LOG_LEVEL: 'warn' },
      // Lever's retries, shortened (real Lever: minutes apart).
      simEnv: { SIM_WEBHOOK_RETRY_DELAYS_MS: '300,600,1200,2400,4800', SIM_WEBHOOK_TIMEOUT_MS: '2000' },
    });
    receiver = await startReceiver(() => secret);
    const endpoint = await fetch(`${stack.api.url}/v1/webhook-endpoints`, { method: 'POST', headers: admin(), body: JSON.stringify({ url: receiver.url, eventTypes: ['lever.*'] }) });
    expect(endpoint.status).toBe(201);
    secret = ((await endpoint.json()) as { secret: string }).secret;
  }, 120_000);
  afterAll(async () => {
    await receiver?.close();
    await stack?.stop();
    await pg?.destroy();
  });

  async function connected(tenant: string, account: string) {
    const outcome = await connectLever({ apiUrl: stack.api.url, apiKey: stack.adminKey, tenant, simAccount: account });
    expect(outcome.result.status).toBe('success');
    // The worker's job subscribes it at Lever, through the account's budget.
    await waitFor('two webhooks at Lever', async () => (await simWebhooks(account)).length === 2, { timeoutMs: 30_000 });
    return outcome.result.connectionId!;
  }

  it('subscribes on connect, and a stage change made through the proxy reaches the operator as a signed lever.candidateStageChange', async () => {
    const id = await connected('lwe-a', 'acct_lwe_a');
    for (const w of await simWebhooks('acct_lwe_a')) expect(w.url.startsWith(`${stack.api.url}/lever/webhooks/`)).toBe(true);
    const stages = ((await (await lever(id, 'GET', 'stages')).json()) as { data: Array<{ id: string }> }).data;
    const opportunity = ((await (await lever(id, 'GET', 'opportunities?limit=1')).json()) as { data: Array<{ id: string; stage: string }> }).data[0]!;
    const to = stages.find((s) => s.id !== opportunity.stage)!;
    expect((await lever(id, 'PUT', `opportunities/${opportunity.id}/stage`, { stage: to.id })).status).toBe(200);
    await waitFor('the operator got the stage change', async () => receiver.received.some((e) => e.type === 'lever.candidateStageChange' && e.data.connection.id === id), { timeoutMs: 30_000 });
    const event = receiver.received.find((e) => e.type === 'lever.candidateStageChange' && e.data.connection.id === id)!;
    expect(event.data.connection).toEqual({ id, tenant: { externalId: 'lwe-a' }, environment: 'production' });
    expect(event.data.lever).toMatchObject({ event: 'candidateStageChange', data: { opportunityId: opportunity.id, toStageId: to.id } });
    expect(receiver.refused).toEqual([]);
  });

  it('forwards exactly once a delivery Lever retried while the api was down', async () => {
    const id = await connected('lwe-down', 'acct_lwe_down');
    const port = Number(new URL(stack.api.url).port);
    await stack.api.stop();
    await fetch(`${sim()}/__sim/webhooks/emit`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ account: 'acct_lwe_down', event: 'applicationCreated', data: { opportunityId: 'o-down' } }) });
    // Lever's first attempt finds nobody; the api comes back on the same address before Lever's retry.
    await waitFor('a failed attempt at Lever', async () => {
      const deliveries = (await (await fetch(`${sim()}/__sim/webhooks/deliveries`)).json()) as Array<{ event: string; attempts: number; delivered: boolean }>;
      return deliveries.some((d) => d.event === 'applicationCreated' && d.attempts >= 1 && !d.delivered);
    }, { timeoutMs: 10_000 });
    const api = await startApp({ name: 'api', entry: APP_ENTRIES.api, port, env: stack.env });
    stack.api = api;
    stack.apis[0] = api;
    await waitFor('forwarded', async () => receiver.received.some((e) => e.data.connection.id === id && e.data.lever.data.opportunityId === 'o-down'), { timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 1_500)); // room for a duplicate to show up
    expect(receiver.received.filter((e) => e.data.connection.id === id && e.data.lever.data.opportunityId === 'o-down')).toHaveLength(1);
  });

  it('answers 503 while Postgres is down (nothing acknowledged that is not stored), and forwards exactly once after Lever retries', async () => {
    const id = await connected('lwe-pg', 'acct_lwe_pg');
    // A fresh process: nothing of this subscription in its memory, so the lookup needs Postgres.
    await pg.stop();
    try {
      await fetch(`${sim()}/__sim/webhooks/emit`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ account: 'acct_lwe_pg', event: 'applicationCreated', data: { opportunityId: 'o-pg' } }) });
      await waitFor('Lever saw a refusal', async () => {
        const deliveries = (await (await fetch(`${sim()}/__sim/webhooks/deliveries`)).json()) as Array<{ event: string; lastStatus: number | null; delivered: boolean; attempts: number }>;
        return deliveries.some((d) => d.event === 'applicationCreated' && !d.delivered && d.attempts >= 1 && (d.lastStatus === 503 || d.lastStatus === 500));
      }, { timeoutMs: 15_000 });
    } finally {
      await pg.start();
    }
    await waitFor('forwarded after Postgres came back', async () => receiver.received.some((e) => e.data.connection.id === id && e.data.lever.data.opportunityId === 'o-pg'), { timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 1_500));
    expect(receiver.received.filter((e) => e.data.connection.id === id && e.data.lever.data.opportunityId === 'o-pg')).toHaveLength(1);
  });

  it('deletes our webhooks at Lever on disconnect', async () => {
    const id = await connected('lwe-gone', 'acct_lwe_gone');
    expect((await fetch(`${stack.api.url}/v1/connections/${id}`, { method: 'DELETE', headers: adminNoBody() })).status).toBe(204);
    expect(await simWebhooks('acct_lwe_gone')).toEqual([]);
  });

  it('after needs_reauth and a reconnect, reconciles without duplicates', async () => {
    const id = await connected('lwe-reauth', 'acct_lwe_reauth');
    // One of ours goes missing at Lever meanwhile (deleted there): the reconcile after the reconnect restores it.
    const ours = ((await (await lever(id, 'GET', 'webhooks')).json()) as { data: Array<{ id: string; event: string }> }).data;
    expect((await lever(id, 'DELETE', `webhooks/${ours.find((w) => w.event === 'applicationCreated')!.id}`)).status).toBe(204);
    expect(await simWebhooks('acct_lwe_reauth')).toHaveLength(1);
    const grants = (await (await fetch(`${sim()}/__sim/grants?account=acct_lwe_reauth`)).json()) as Array<{ id: string }>;
    await fetch(`${sim()}/__sim/grants/${grants[0]!.id}/revoke`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect((await fetch(`${stack.api.url}/v1/connections/${id}/refresh`, { method: 'POST', headers: adminNoBody() })).status).toBe(409);
    const again = await connectLever({ apiUrl: stack.api.url, apiKey: stack.adminKey, tenant: 'lwe-reauth', simAccount: 'acct_lwe_reauth', connectionId: id });
    expect(again.result).toMatchObject({ status: 'success', connectionId: id });
    await waitFor('reconciled after the reconnect', async () => (await simWebhooks('acct_lwe_reauth')).length === 2, { timeoutMs: 30_000 });
    const list = (await (await fetch(`${stack.api.url}/v1/connections/${id}/lever-webhooks`, { headers: adminNoBody() })).json()) as { data: Array<{ state: string }> };
    expect(list.data.map((s) => s.state)).toEqual(['active', 'active']);
    await new Promise((r) => setTimeout(r, 1_000));
    const atLever = await simWebhooks('acct_lwe_reauth');
    expect(atLever).toHaveLength(2);
    expect(new Set(atLever.map((w) => w.event))).toEqual(new Set(['candidateStageChange', 'applicationCreated']));
  });
});
