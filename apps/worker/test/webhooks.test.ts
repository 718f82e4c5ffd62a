import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '@lever-connect/config';
import { createCore, upsertTenant, writeConnectionEvent, type Core } from '@lever-connect/connections';
import {
  createTestDatabase,
  deleteRedisPrefix,
  randomEncryptionKey,
  randomRedisPrefix,
  TEST_REDIS_URL,
  waitFor,
  type TestDatabase,
} from '@lever-connect/testing';
import { createWebhookEndpointService } from '@lever-connect/webhooks';
import pino from 'pino';
import { Webhook } from 'standardwebhooks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startWebhookWorkers, type WebhookWorkerOptions } from '../src/webhooks.js';

interface Received {
  headers: Record<string, string>;
  body: string;
  at: number;
}

/** A real receiver on 127.0.0.1:0. `respond` returns a status or 'hold' (never answer). */
async function startReceiver(respond: (r: Received) => number | 'hold' = () => 200) {
  const received: Received[] = [];
  const held = new Set<http.ServerResponse>();
  let responder = respond;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const entry = {
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      };
      received.push(entry);
      const answer = responder(entry);
      if (answer === 'hold') held.add(res);
      else res.writeHead(answer).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    received,
    setResponder: (next: typeof respond) => void (responder = next),
    async close() {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const FAST: WebhookWorkerOptions = { relayIntervalMs: 100, sweepIntervalMs: 250, sweepGraceMs: 200, timeoutMs: 1_500 };

describe('webhook delivery through the worker', () => {
  let db: TestDatabase;
  let prefix: string;
  let core: Core;
  let env: Record<string, string>;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const running: Array<Awaited<ReturnType<typeof startWebhookWorkers>>> = [];

  const start = async (options: WebhookWorkerOptions = FAST) => {
    const workers = await startWebhookWorkers(core, options);
    running.push(workers);
    return workers;
  };
  const service = () => createWebhookEndpointService({ prisma: core.prisma, cipher: core.cipher, config: core.config, tenantIdOf: core.tenantIdOf });
  const subject = async (externalId: string) => {
    const tenant = await upsertTenant(core.prisma, { externalId });
    return { id: crypto.randomUUID(), environment: 'sandbox', status: 'needs_reauth', tenantId: tenant.id, tenant: { externalId } };
  };
  const allSucceeded = async (count: number) =>
    (await core.prisma.webhookDelivery.count({ where: { status: 'succeeded' } })) === count;

  beforeEach(async () => {
    db = await createTestDatabase();
    prefix = randomRedisPrefix();
    env = {
      NODE_ENV: 'test',
      LEVER_ENV: 'simulator',
      // The receiver is plain http on 127.0.0.1, which the SSRF guard refuses unless switched off by name.
      ALLOW_INSECURE_DEV: 'true',
      DATABASE_URL: db.url,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_PREFIX: prefix,
      TOKEN_ENCRYPTION_KEY: randomEncryptionKey(),
      WEBHOOK_RETRY_DELAYS_SECONDS: '1,1,1',
    };
    const config = loadConfig(env);
    core = createCore(config, pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }));
    receiver = await startReceiver();
  });
  afterEach(async () => {
    await receiver.close();
    await Promise.all(running.splice(0).map((w) => w.close()));
    await core.close();
    await db.drop();
    await deleteRedisPrefix(prefix);
  });

  it('delivers an outbox event, signed so that the standardwebhooks library verifies it', async () => {
    const { endpoint, secret } = await service().create({ url: receiver.url });
    await start();
    const a = await subject('tenant-a');
    await writeConnectionEvent(core.prisma, 'connection.needs_reauth', a, { reason: 'invalid_grant' });
    await waitFor('the delivery', () => allSucceeded(1));
    const { headers, body } = receiver.received[0]!;
    expect(new Webhook(secret).verify(body, headers)).toMatchObject({
      type: 'connection.needs_reauth',
      data: { connection: { id: a.id, tenant: { externalId: 'tenant-a' }, status: 'needs_reauth', reason: 'invalid_grant' } },
    });
    expect(body).not.toMatch(/token/i);
    expect((await core.prisma.webhookDelivery.findFirstOrThrow({ where: { endpointId: endpoint.id } })).attempts).toBe(1);
  });

  it('gets every event to a receiver that was down for a while, at least once; de-duplicated by id, each exactly once', async () => {
    const { secret } = await service().create({ url: receiver.url });
    const upAt = Date.now() + 2_000;
    receiver.setResponder(() => (Date.now() < upAt ? 503 : 200));
    await start();
    const a = await subject('tenant-a');
    for (let i = 0; i < 20; i++) await writeConnectionEvent(core.prisma, 'connection.needs_reauth', a, { reason: `r${i}` });
    await waitFor('all deliveries', () => allSucceeded(20), { timeoutMs: 20_000 });

    const processed = new Map<string, unknown>();
    for (const { headers, body } of receiver.received) {
      const payload = new Webhook(secret).verify(body, headers) as { id: string };
      if (!processed.has(payload.id)) processed.set(payload.id, payload);
    }
    const events = await core.prisma.event.findMany({ select: { id: true } });
    expect([...processed.keys()].sort()).toEqual(events.map((e) => e.id).sort());
    expect(receiver.received.length).toBeGreaterThan(20); // the outage cost retries

    // Retries were spaced by the backoff schedule (1 s ± 20%), not hammered.
    const rows = await core.prisma.webhookDelivery.findMany({ where: { attempts: { gt: 1 } } });
    expect(rows.length).toBeGreaterThan(0);
    const firstId = (await core.prisma.event.findUniqueOrThrow({ where: { id: rows[0]!.eventId } })).id;
    const times = receiver.received.filter((r) => r.headers['webhook-id'] === firstId).map((r) => r.at);
    // Every attempt the row counts reached the receiver under the event's id: the gaps below are all there.
    expect(times).toHaveLength(rows[0]!.attempts);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(750);
  });

  it('sends nothing from a copy of the database owned by another deployment (deployment fence)', async () => {
    await service().create({ url: receiver.url });
    await core.fence.owner(); // this deployment owns the database
    const clone = createCore(loadConfig({ ...env, DEPLOYMENT_ID: 'staging-clone' }), pino({ level: 'silent' }));
    try {
      const workers = await startWebhookWorkers(clone, FAST);
      await writeConnectionEvent(core.prisma, 'connection.needs_reauth', await subject('tenant-a'));
      await new Promise((r) => setTimeout(r, 1_500));
      expect(receiver.received).toHaveLength(0);
      expect(await core.prisma.event.count({ where: { relayedAt: null } })).toBe(1);
      await workers.close();
      // The owner's workers deliver it.
      await start();
      await waitFor('the owner to deliver', () => allSucceeded(1));
      expect(receiver.received).toHaveLength(1);
    } finally {
      await clone.close();
    }
  });

  it('never sends an event to endpoints filtered to other tenants', async () => {
    const receiverB = await startReceiver();
    try {
      await service().create({ url: receiver.url, tenantExternalId: 'tenant-a' });
      await service().create({ url: receiverB.url, tenantExternalId: 'tenant-b' });
      await start();
      await writeConnectionEvent(core.prisma, 'connection.needs_reauth', await subject('tenant-a'));
      await writeConnectionEvent(core.prisma, 'connection.created', await subject('tenant-b'));
      await waitFor('both deliveries', () => allSucceeded(2));
      expect(receiver.received.map((r) => JSON.parse(r.body).data.connection.tenant.externalId)).toEqual(['tenant-a']);
      expect(receiverB.received.map((r) => JSON.parse(r.body).data.connection.tenant.externalId)).toEqual(['tenant-b']);
    } finally {
      await receiverB.close();
    }
  });

  it('re-delivers after a worker is killed mid-delivery and its queue is lost (the sweep re-enqueues)', async () => {
    const { endpoint } = await service().create({ url: receiver.url });
    receiver.setResponder(() => 'hold');
    const first = await start();
    await writeConnectionEvent(core.prisma, 'connection.needs_reauth', await subject('tenant-a'));
    await waitFor('the first attempt to reach the receiver', () => receiver.received.length === 1);

    await first.kill();
    await deleteRedisPrefix(prefix); // the job dies with the crash (or a Redis flush): only Postgres remembers
    receiver.setResponder(() => 200);
    await start();

    await waitFor('the re-delivery', () => allSucceeded(1), { timeoutMs: 20_000 });
    const ids = receiver.received.map((r) => r.headers['webhook-id']);
    expect(ids.length).toBeGreaterThanOrEqual(2);
    expect(new Set(ids).size).toBe(1);
    const row = await core.prisma.webhookDelivery.findFirstOrThrow({ where: { endpointId: endpoint.id } });
    expect(row).toMatchObject({ status: 'succeeded', responseStatus: 200 });
  });

  it('re-delivers after a worker is killed mid-delivery while Redis keeps the job (stalled job recovery)', async () => {
    await service().create({ url: receiver.url });
    receiver.setResponder(() => 'hold');
    const options = { ...FAST, lockDurationMs: 1_000 };
    const first = await start(options);
    await writeConnectionEvent(core.prisma, 'connection.needs_reauth', await subject('tenant-a'));
    await waitFor('the first attempt to reach the receiver', () => receiver.received.length === 1);

    await first.kill();
    receiver.setResponder(() => 200);
    await start(options);

    await waitFor('the re-delivery', () => allSucceeded(1), { timeoutMs: 20_000 });
    expect(receiver.received.length).toBeGreaterThanOrEqual(2);
  });

  it('relays events written while no worker ran, on start', async () => {
    await service().create({ url: receiver.url });
    await writeConnectionEvent(core.prisma, 'connection.created', await subject('tenant-a'));
    await start({ ...FAST, relayIntervalMs: 60_000 });
    await waitFor('the delivery', () => allSucceeded(1));
  });
});
