import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDeliverer, createWebhookQueue, DEFAULT_EVENT_TYPES, webhookJobId } from '@lever-connect/webhooks';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, buildTestApp, PRODUCTION_ENV, type TestApp } from './helpers.js';

const UNKNOWN = '00000000-0000-4000-8000-000000000000';

describe('webhook endpoints API', () => {
  let t: TestApp;
  let receiver: http.Server;
  let receiverUrl: string;
  let status = 200;
  let queue: ReturnType<typeof createWebhookQueue>;

  const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) =>
    t.app.inject({ method, url, headers: bearer(t.adminKey), ...(payload ? { payload } : {}) });
  const create = async (payload: object = {}) => {
    const res = await call('POST', '/v1/webhook-endpoints', { url: receiverUrl, ...payload });
    expect(res.statusCode, res.body).toBe(201);
    return res.json() as { id: string; secret: string; endpoint: Record<string, unknown> };
  };
  /** Runs one attempt of a delivery as the worker would. */
  const attempt = (deliveryId: string) =>
    createDeliverer({ prisma: t.core.prisma, cipher: t.core.cipher, config: t.core.config, log: pino({ level: 'silent' }) }).deliver(deliveryId);

  beforeAll(async () => {
    t = await buildTestApp({ WEBHOOK_RETRY_DELAYS_SECONDS: '1,1,1' });
    receiver = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(status).end());
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
    queue = createWebhookQueue(t.core.queueRedis, t.core.config.redisPrefix);
  });
  afterAll(async () => {
    await queue?.close();
    receiver?.closeAllConnections();
    await new Promise((resolve) => receiver?.close(resolve));
    await t?.close();
  });

  it('creates an endpoint and returns its whsec_ secret once, next to its id', async () => {
    const { id, secret, endpoint } = await create({ description: 'ops backend' });
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(endpoint).toMatchObject({ id, url: receiverUrl, enabled: true, tenantExternalId: null, description: 'ops backend' });
    expect(endpoint.eventTypes).toEqual([...DEFAULT_EVENT_TYPES]);
    expect(endpoint.eventTypes).not.toContain('connection.refreshed');

    for (const url of ['/v1/webhook-endpoints', `/v1/webhook-endpoints/${id}`]) {
      const res = await call('GET', url);
      expect(res.statusCode).toBe(200);
      expect(res.body).not.toContain(secret);
      expect(res.body).not.toMatch(/secret"/i);
    }
    const row = await t.core.prisma.webhookEndpoint.findUniqueOrThrow({ where: { id } });
    expect(row.secretCiphertext).not.toContain(secret.slice(6));
    expect(t.core.cipher.decrypt(row.secretCiphertext, { row: id, column: 'secret' })).toBe(secret);
  });

  it.each([
    [{ url: 'http://hooks.example.com/x' }, 'webhook_url_not_allowed'],
    [{ url: 'not a url' }, 'webhook_url_not_allowed'],
    [{ url: 'https://user:pw@hooks.example.com/x' }, 'webhook_url_not_allowed'],
    [{ url: 'https://hooks.example.com/x', eventTypes: ['connection.nope'] }, 'validation_failed'],
    [{ url: 'https://hooks.example.com/x', eventTypes: [] }, 'validation_failed'],
    [{ url: 'https://hooks.example.com/x', secret: 'whsec_mine' }, 'validation_failed'],
  ])('refuses %j with %s', async (payload, code) => {
    const res = await call('POST', '/v1/webhook-endpoints', payload);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: { code }, requestId: expect.any(String) });
  });

  it('updates subscriptions, the tenant filter and the enabled flag', async () => {
    const { id } = await create();
    const patched = await call('PATCH', `/v1/webhook-endpoints/${id}`, {
      eventTypes: ['connection.refreshed', 'connection.needs_reauth'],
      tenantExternalId: 'tenant-a',
      enabled: false,
    });
    expect(patched.statusCode).toBe(200);
    expect(patched.json()).toMatchObject({
      eventTypes: ['connection.refreshed', 'connection.needs_reauth'],
      tenantExternalId: 'tenant-a',
      enabled: false,
      disabledReason: 'disabled by the operator',
    });
    const reset = await call('PATCH', `/v1/webhook-endpoints/${id}`, { eventTypes: null, tenantExternalId: null, enabled: true });
    expect(reset.json()).toMatchObject({ eventTypes: [...DEFAULT_EVENT_TYPES], tenantExternalId: null, enabled: true, disabledReason: null });
    expect((await call('PATCH', `/v1/webhook-endpoints/${UNKNOWN}`, { enabled: true })).statusCode).toBe(404);
    expect((await call('PATCH', `/v1/webhook-endpoints/${id}`, { url: 'http://example.com' })).json().error.code).toBe('webhook_url_not_allowed');
  });

  it('rotates the secret: the new one is returned once, the old one overlaps 24 h by default', async () => {
    const { id, secret } = await create();
    const before = Date.now();
    const res = await call('POST', `/v1/webhook-endpoints/${id}/rotate-secret`, {});
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.id).toBe(id);
    expect(body.secret).toMatch(/^whsec_/);
    expect(body.secret).not.toBe(secret);
    const expires = Date.parse(body.endpoint.previousSecretExpiresAt);
    expect(expires - before).toBeGreaterThanOrEqual(86_400_000 - 5_000);
    expect(expires - before).toBeLessThanOrEqual(86_400_000 + 5_000);
    const noOverlap = await call('POST', `/v1/webhook-endpoints/${id}/rotate-secret`, { overlapSeconds: 0 });
    expect(noOverlap.json().endpoint.previousSecretExpiresAt).toBeNull();
    const bare = await t.app.inject({ method: "POST", url: `/v1/webhook-endpoints/${id}/rotate-secret`, headers: bearer(t.adminKey) });
    expect(bare.statusCode, bare.body).toBe(200);
    expect((await call('POST', `/v1/webhook-endpoints/${id}/rotate-secret`, { overlapSeconds: -1 })).statusCode).toBe(400);
  });

  it('sends a test event, lists the delivery with its outcome, and paginates by cursor', async () => {
    const { id } = await create();
    const sent = await call('POST', `/v1/webhook-endpoints/${id}/test`);
    expect(sent.statusCode).toBe(202);
    const { eventId, deliveryId } = sent.json();
    expect(await queue.getJob(webhookJobId(deliveryId))).toBeTruthy();

    let list = (await call('GET', `/v1/webhook-endpoints/${id}/deliveries`)).json();
    expect(list.data).toEqual([expect.objectContaining({ id: deliveryId, eventId, eventType: 'webhook.test', status: 'pending', attempts: 0 })]);

    expect(await attempt(deliveryId)).toEqual({ outcome: 'succeeded' });
    list = (await call('GET', `/v1/webhook-endpoints/${id}/deliveries`)).json();
    expect(list.data[0]).toMatchObject({ status: 'succeeded', attempts: 1, responseStatus: 200, nextAttemptAt: null });
    expect(list.data[0].durationMs).toBeTypeOf('number');

    for (let i = 0; i < 4; i++) await call('POST', `/v1/webhook-endpoints/${id}/test`);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { data: Array<{ id: string }>; nextCursor: string | null } = (
        await call('GET', `/v1/webhook-endpoints/${id}/deliveries?limit=2${cursor ? `&cursor=${cursor}` : ''}`)
      ).json();
      expect(page.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.data.map((d) => d.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(5);
    expect(new Set(seen).size).toBe(5);
    expect(seen.at(-1)).toBe(deliveryId); // newest first
    const pending = (await call('GET', `/v1/webhook-endpoints/${id}/deliveries?status=pending`)).json();
    expect(pending.data).toHaveLength(4);
    expect((await call('GET', `/v1/webhook-endpoints/${UNKNOWN}/deliveries`)).statusCode).toBe(404);
  });

  it('retries a failed delivery now, and refuses to retry a succeeded one', async () => {
    const { id } = await create();
    const { deliveryId } = (await call('POST', `/v1/webhook-endpoints/${id}/test`)).json();
    await queue.remove(webhookJobId(deliveryId));
    status = 500;
    try {
      expect(await attempt(deliveryId)).toMatchObject({ outcome: 'retry' });
      await t.core.prisma.webhookDelivery.update({ where: { id: deliveryId }, data: { status: 'failed', nextAttemptAt: null } });
      const failed = (await call('GET', `/v1/webhook-endpoints/${id}/deliveries`)).json().data[0];
      expect(failed).toMatchObject({ status: 'failed', responseStatus: 500, lastError: 'HTTP 500', attempts: 1 });
    } finally {
      status = 200;
    }

    const retried = await call('POST', `/v1/webhook-endpoints/${id}/deliveries/${deliveryId}/retry`);
    expect(retried.statusCode).toBe(202);
    expect(retried.json()).toEqual({ deliveryId, status: 'pending' });
    expect(await queue.getJob(webhookJobId(deliveryId))).toBeTruthy();
    const row = await t.core.prisma.webhookDelivery.findUniqueOrThrow({ where: { id: deliveryId } });
    expect(row.status).toBe('pending');
    expect(row.nextAttemptAt!.getTime()).toBeLessThanOrEqual(Date.now());
    expect(await attempt(deliveryId)).toEqual({ outcome: 'succeeded' });

    const again = await call('POST', `/v1/webhook-endpoints/${id}/deliveries/${deliveryId}/retry`);
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe('delivery_already_succeeded');
    const other = await create();
    expect((await call('POST', `/v1/webhook-endpoints/${other.id}/deliveries/${deliveryId}/retry`)).statusCode).toBe(404);
  });

  it('deletes an endpoint', async () => {
    const { id } = await create();
    expect((await call('DELETE', `/v1/webhook-endpoints/${id}`)).statusCode).toBe(204);
    expect((await call('GET', `/v1/webhook-endpoints/${id}`)).statusCode).toBe(404);
    expect((await call('DELETE', `/v1/webhook-endpoints/${id}`)).statusCode).toBe(404);
  });
});

describe('webhook endpoints API in production', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({
      ...PRODUCTION_ENV,
      WEBHOOK_ALLOWED_HOSTS: '10.20.0.0/16',
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  it.each([
    ['http://localhost:3000/hooks', /must be https/],
    ['https://127.0.0.1/hooks', /private or reserved/],
    ['https://localhost/hooks', /private or reserved/],
    ['https://169.254.169.254/latest/meta-data', /private or reserved/],
    ['https://[fd00::1]/hooks', /private or reserved/],
    ['https://100.64.1.1/hooks', /private or reserved/],
  ])('refuses %s (SSRF) with webhook_url_not_allowed', async (url, message) => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/webhook-endpoints', headers: bearer(t.adminKey), payload: { url } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('webhook_url_not_allowed');
    expect(res.json().error.message).toMatch(message);
  });

  it('accepts an allow-listed private range for on-prem receivers', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/webhook-endpoints', headers: bearer(t.adminKey), payload: { url: 'https://10.20.3.4/hooks' } });
    expect(res.statusCode).toBe(201);
  });
});
