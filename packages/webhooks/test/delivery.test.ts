import { randomBytes } from 'node:crypto';
import { upsertTenant, writeConnectionEvent } from '@lever-connect/connections';
import { writeEvent } from '@lever-connect/db';
import { createTokenCipher } from '@lever-connect/crypto';
import { createTestDatabase, type TestDatabase } from '@lever-connect/testing';
import pino from 'pino';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDeliverer, createOutboxRelay, createWebhookEndpointService, type LookupAll } from '../src/index.js';
import { startForbiddenListener, startSniRecorder } from './listeners.js';
import { startReceiver, type Receiver } from './receiver.js';

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const cipher = createTokenCipher({ currentKey: randomBytes(32) });
const webhooksConfig = { ssrfGuard: false, retryDelaysSeconds: [1, 1, 1], disableAfterSeconds: 259_200, allowedHosts: [], concurrency: 10 };
const config = { webhooks: webhooksConfig };

describe('webhook fan-out and delivery', () => {
  let db: TestDatabase;
  let receiver: Receiver;
  let clock: number;
  const now = () => new Date(clock);
  const prisma = () => db.db.prisma;
  const tenantIdOf = async (externalId: string) => (await upsertTenant(prisma(), { externalId })).id;
  const service = () => createWebhookEndpointService({ prisma: prisma(), cipher, config, now, tenantIdOf });
  const deliverer = (over: Partial<Parameters<typeof createDeliverer>[0]> = {}) =>
    createDeliverer({ prisma: prisma(), cipher, config, log, now, random: () => 0.5, timeoutMs: 2_000, ...over });
  const relay = () => createOutboxRelay({ database: db.db, now });

  const subject = async (externalId: string) => {
    const tenant = await upsertTenant(prisma(), { externalId });
    return {
      id: crypto.randomUUID(),
      environment: 'production',
      status: 'needs_reauth',
      tenantId: tenant.id,
      tenant: { externalId },
    };
  };

  /** Relays the outbox and returns the deliveries of one endpoint. */
  const deliveriesOf = async (endpointId: string) => {
    await relay().relayAll(async () => undefined);
    return prisma().webhookDelivery.findMany({ where: { endpointId }, orderBy: { seq: 'asc' } });
  };

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });
  beforeEach(async () => {
    clock = Date.now();
    receiver = await startReceiver();
    await prisma().webhookDelivery.deleteMany();
    await prisma().webhookEndpoint.deleteMany();
    await prisma().event.deleteMany();
  });
  afterEach(async () => {
    await receiver.close();
  });

  it('fans each event out once per matching endpoint, even when relays run concurrently and repeat', async () => {
    const all = (await service().create({ url: receiver.url })).endpoint;
    const onlyA = (await service().create({ url: receiver.url, tenantExternalId: 'tenant-a' })).endpoint;
    const onlyB = (await service().create({ url: receiver.url, tenantExternalId: 'tenant-b' })).endpoint;
    const refreshedOnly = (await service().create({ url: receiver.url, eventTypes: ['connection.refreshed'] })).endpoint;
    const a = await subject('tenant-a');
    for (let i = 0; i < 30; i++) await writeConnectionEvent(prisma(), 'connection.needs_reauth', a, { reason: 'revoked' });

    const relays = Array.from({ length: 4 }, () => createOutboxRelay({ database: db.db, batchSize: 7, now }));
    await Promise.all(relays.map((r) => r.relayAll(async () => undefined)));
    await relay().relayAll(async () => undefined);

    const count = (endpointId: string) => prisma().webhookDelivery.count({ where: { endpointId } });
    expect(await count(all.id)).toBe(30);
    expect(await count(onlyA.id)).toBe(30);
    expect(await count(onlyB.id)).toBe(0);
    expect(await count(refreshedOnly.id)).toBe(0);
    expect(await prisma().event.count({ where: { relayedAt: null } })).toBe(0);
  });

  it('delivers a signed payload {id, type, createdAt, data} that the standardwebhooks library verifies', async () => {
    const { endpoint, secret } = await service().create({ url: receiver.url });
    const a = await subject('tenant-a');
    await writeConnectionEvent(prisma(), 'connection.needs_reauth', a, { reason: 'revoked_by_customer' });
    const [delivery] = await deliveriesOf(endpoint.id);

    expect(await deliverer().deliver(delivery!.id)).toEqual({ outcome: 'succeeded' });

    expect(receiver.received).toHaveLength(1);
    const { headers, body } = receiver.received[0]!;
    const event = await prisma().event.findUniqueOrThrow({ where: { id: delivery!.eventId } });
    expect(headers['webhook-id']).toBe(event.id);
    expect(headers['content-type']).toBe('application/json');
    expect(new Webhook(secret).verify(body, headers)).toEqual({
      id: event.id,
      type: 'connection.needs_reauth',
      createdAt: event.createdAt.toISOString(),
      data: { connection: { id: a.id, tenant: { externalId: 'tenant-a' }, environment: 'production', status: 'needs_reauth', reason: 'revoked_by_customer' } },
    });
    const row = await prisma().webhookDelivery.findUniqueOrThrow({ where: { id: delivery!.id } });
    expect(row).toMatchObject({ status: 'succeeded', attempts: 1, responseStatus: 200, lastError: null, nextAttemptAt: null });
    expect(row.durationMs).toBeGreaterThanOrEqual(0);
    // Delivering again is a no-op: at most one success per delivery.
    expect(await deliverer().deliver(delivery!.id)).toEqual({ outcome: 'skipped' });
    expect(receiver.received).toHaveLength(1);
  });

  it('retries a failed attempt with backoff, clears the failure run on success, and fails after the last retry', async () => {
    const { endpoint } = await service().create({ url: receiver.url });
    await writeEvent(prisma(), { type: 'oauth_app.invalid_credentials', data: { environment: 'production', clientId: 'abc' } });
    const [delivery] = await deliveriesOf(endpoint.id);
    receiver.setResponder(() => 500);

    const first = await deliverer().deliver(delivery!.id);
    expect(first).toEqual({ outcome: 'retry', nextAttemptAt: new Date(clock + 1_000) });
    let row = await prisma().webhookDelivery.findUniqueOrThrow({ where: { id: delivery!.id } });
    expect(row).toMatchObject({ status: 'pending', attempts: 1, responseStatus: 500, lastError: 'HTTP 500' });
    expect((await prisma().webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } })).failingSince).toEqual(new Date(clock));

    // Not due yet: no request.
    expect(await deliverer().deliver(delivery!.id)).toMatchObject({ outcome: 'not_due' });
    expect(receiver.received).toHaveLength(1);

    for (const attempt of [2, 3]) {
      clock += 1_000;
      expect(await deliverer().deliver(delivery!.id)).toMatchObject({ outcome: 'retry' });
      row = await prisma().webhookDelivery.findUniqueOrThrow({ where: { id: delivery!.id } });
      expect(row.attempts).toBe(attempt);
    }
    clock += 1_000;
    expect(await deliverer().deliver(delivery!.id)).toEqual({ outcome: 'failed' });
    row = await prisma().webhookDelivery.findUniqueOrThrow({ where: { id: delivery!.id } });
    expect(row).toMatchObject({ status: 'failed', attempts: 4, nextAttemptAt: null, lastError: 'HTTP 500' });
    expect(receiver.received).toHaveLength(4);
    // Every attempt carries the same event id and body, so receivers can de-duplicate.
    expect(new Set(receiver.received.map((r) => r.body)).size).toBe(1);

    // A manual retry gets one more attempt; success ends the endpoint's failure run.
    receiver.setResponder(() => 204);
    await service().retryDelivery(endpoint.id, delivery!.id);
    expect(await deliverer().deliver(delivery!.id)).toEqual({ outcome: 'succeeded' });
    expect((await prisma().webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } })).failingSince).toBeNull();
  });

  it('records a timeout without an answer as a failed attempt', async () => {
    const { endpoint } = await service().create({ url: receiver.url });
    await writeEvent(prisma(), { type: 'oauth_app.invalid_credentials', data: { environment: 'sandbox', clientId: 'x' } });
    const [delivery] = await deliveriesOf(endpoint.id);
    receiver.setResponder(() => 'hold');
    expect(await deliverer({ timeoutMs: 300 }).deliver(delivery!.id)).toMatchObject({ outcome: 'retry' });
    const row = await prisma().webhookDelivery.findUniqueOrThrow({ where: { id: delivery!.id } });
    expect(row).toMatchObject({ responseStatus: null, lastError: 'no answer within 300 ms' });
  });

  it('disables the endpoint at once on 410 Gone, emits webhook_endpoint.disabled, and fails its other deliveries', async () => {
    const { endpoint } = await service().create({ url: receiver.url });
    const other = (await service().create({ url: receiver.url, eventTypes: ['webhook_endpoint.disabled'] })).endpoint;
    const a = await subject('tenant-a');
    await writeConnectionEvent(prisma(), 'connection.needs_reauth', a);
    await writeConnectionEvent(prisma(), 'connection.deleted', a);
    const [first, second] = await deliveriesOf(endpoint.id);
    receiver.setResponder(() => 410);

    expect(await deliverer().deliver(first!.id)).toEqual({ outcome: 'disabled', reason: 'endpoint answered 410 Gone' });
    const after = await prisma().webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } });
    expect(after).toMatchObject({ enabled: false, disabledReason: 'endpoint answered 410 Gone' });
    const disabledEvent = await prisma().event.findFirstOrThrow({ where: { type: 'webhook_endpoint.disabled' } });
    expect(disabledEvent.data).toEqual({ endpointId: endpoint.id, reason: 'endpoint answered 410 Gone' });

    expect(await deliverer().deliver(second!.id)).toEqual({ outcome: 'failed' });
    expect(receiver.received).toHaveLength(1);
    expect((await prisma().webhookDelivery.findUniqueOrThrow({ where: { id: second!.id } })).lastError).toMatch(/^endpoint disabled/);
    // The notice goes to the endpoints subscribed to it, never to the disabled one.
    expect(await deliveriesOf(other.id)).toHaveLength(1);
    expect(await prisma().webhookDelivery.count({ where: { endpointId: endpoint.id } })).toBe(2);
  });

  describe('disabling after 3 days of failures', () => {
    const hour = 3_600_000;
    const day = 24 * hour;
    // Retries 12 h apart, so that one delivery alone can fail for 3 days.
    const halfDays = { config: { webhooks: { ...webhooksConfig, retryDelaysSeconds: Array<number>(6).fill(43_200) } } };
    const failingEndpoint = async () => {
      const { endpoint } = await service().create({ url: receiver.url });
      receiver.setResponder(() => 503);
      return endpoint;
    };
    const newDelivery = async (endpointId: string, clientId: string) => {
      await writeEvent(prisma(), { type: 'oauth_app.invalid_credentials', data: { environment: 'sandbox', clientId } });
      const all = await deliveriesOf(endpointId);
      return all[all.length - 1]!;
    };
    const endpointRow = (id: string) => prisma().webhookEndpoint.findUniqueOrThrow({ where: { id } });

    it('disables an endpoint whose deliveries have been failing for 3 days straight', async () => {
      const endpoint = await failingEndpoint();
      const delivery = await newDelivery(endpoint.id, 'x');
      const firstFailure = new Date(clock);
      for (let attempt = 1; attempt <= 6; attempt++) {
        expect(await deliverer(halfDays).deliver(delivery.id)).toMatchObject({ outcome: 'retry' });
        clock += 12 * hour;
      }
      expect((await endpointRow(endpoint.id)).failingSince).toEqual(firstFailure);
      expect(await deliverer(halfDays).deliver(delivery.id)).toEqual({ outcome: 'disabled', reason: `deliveries failing since ${firstFailure.toISOString()}` });
      expect(await endpointRow(endpoint.id)).toMatchObject({ enabled: false, disabledReason: `deliveries failing since ${firstFailure.toISOString()}` });
      expect(await prisma().event.count({ where: { type: 'webhook_endpoint.disabled' } })).toBe(1);
    });

    it('does not disable an endpoint that failed once on day 0 and next on day 4: a new failure run starts', async () => {
      const endpoint = await failingEndpoint();
      const early = await newDelivery(endpoint.id, 'day-0');
      expect(await deliverer().deliver(early.id)).toMatchObject({ outcome: 'retry' });
      expect((await endpointRow(endpoint.id)).failingSince).toEqual(new Date(clock));

      clock += 4 * day; // no traffic in between
      const late = await newDelivery(endpoint.id, 'day-4');
      expect(await deliverer().deliver(late.id)).toMatchObject({ outcome: 'retry' });
      expect(await endpointRow(endpoint.id)).toMatchObject({ enabled: true, failingSince: new Date(clock) });
      expect(await prisma().event.count({ where: { type: 'webhook_endpoint.disabled' } })).toBe(0);
    });

    it('starts a new run when deliveries are retried together after a long outage of our own, however they interleave', async () => {
      const endpoint = await failingEndpoint();
      const pending = [await newDelivery(endpoint.id, 'a'), await newDelivery(endpoint.id, 'b'), await newDelivery(endpoint.id, 'c')];
      for (const d of pending) expect(await deliverer().deliver(d.id)).toMatchObject({ outcome: 'retry' });

      clock += 4 * day; // the workers were down: every retry is overdue and they run at once
      const outcomes = await Promise.all(pending.map((d) => deliverer().deliver(d.id)));
      expect(outcomes.map((o) => o.outcome)).toEqual(['retry', 'retry', 'retry']);
      expect(await endpointRow(endpoint.id)).toMatchObject({ enabled: true, failingSince: new Date(clock) });
    });

    it('disables none of many endpoints whose overdue retries all run at once after an outage of ours', async () => {
      // Many deliveries per endpoint deciding at the same moment: each must see the run the others left
      // (the endpoint row is locked for the decision), never the stale one from before the outage.
      const endpoints = await Promise.all(Array.from({ length: 6 }, () => failingEndpoint()));
      for (const tag of ['a', 'b', 'c', 'd']) await newDelivery(endpoints[0]!.id, `many-${tag}`);
      const pending = (await Promise.all(endpoints.map((e) => deliveriesOf(e.id)))).flat().filter((d) => d.status === 'pending');
      for (const d of pending) expect(await deliverer().deliver(d.id)).toMatchObject({ outcome: 'retry' });

      clock += 4 * day;
      const outcomes = await Promise.all(pending.map((d) => deliverer().deliver(d.id)));
      expect(outcomes.filter((o) => o.outcome !== 'retry')).toEqual([]);
      for (const e of endpoints) expect(await endpointRow(e.id)).toMatchObject({ enabled: true, failingSince: new Date(clock) });
    });
  });

  it('signs with both secrets during a rotation overlap and only with the new one after', async () => {
    const { endpoint, secret: oldSecret } = await service().create({ url: receiver.url });
    const { secret: newSecret, endpoint: rotated } = await service().rotateSecret(endpoint.id, { overlapSeconds: 3600 });
    expect(newSecret).not.toBe(oldSecret);
    expect(rotated.previousSecretExpiresAt).toEqual(new Date(clock + 3_600_000));

    await writeEvent(prisma(), { type: 'oauth_app.invalid_credentials', data: { environment: 'sandbox', clientId: 'x' } });
    const [during] = await deliveriesOf(endpoint.id);
    await deliverer().deliver(during!.id);
    const overlap = receiver.received[0]!;
    expect(overlap.headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(() => new Webhook(oldSecret).verify(overlap.body, overlap.headers)).not.toThrow();
    expect(() => new Webhook(newSecret).verify(overlap.body, overlap.headers)).not.toThrow();

    // The overlap ends: only the new secret signs.
    await writeEvent(prisma(), { type: 'oauth_app.invalid_credentials', data: { environment: 'sandbox', clientId: 'y' } });
    const [, later] = await deliveriesOf(endpoint.id);
    await prisma().webhookEndpoint.update({ where: { id: endpoint.id }, data: { previousSecretExpiresAt: new Date(clock - 1) } });
    await prisma().webhookDelivery.update({ where: { id: later!.id }, data: { nextAttemptAt: new Date(clock) } });
    await deliverer().deliver(later!.id);
    const after = receiver.received[1]!;
    expect(after.headers['webhook-signature']!.split(' ')).toHaveLength(1);
    expect(() => new Webhook(newSecret).verify(after.body, after.headers)).not.toThrow();
    expect(() => new Webhook(oldSecret).verify(after.body, after.headers)).toThrow();
  });

  it('rotates away a secret that no longer decrypts (its key is gone), and signs with the new one alone', async () => {
    const { endpoint } = await service().create({ url: receiver.url });
    const lostKey = createTokenCipher({ currentKey: randomBytes(32) });
    await prisma().webhookEndpoint.update({
      where: { id: endpoint.id },
      data: { secretCiphertext: lostKey.encrypt('whsec_lost', { row: endpoint.id, column: 'secret' }) },
    });

    const { secret, endpoint: rotated } = await service().rotateSecret(endpoint.id, { overlapSeconds: 3600 });

    expect(rotated.previousSecretExpiresAt).toBeNull();
    expect(await prisma().webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } })).toMatchObject({ previousSecretCiphertext: null });
    await writeEvent(prisma(), { type: 'oauth_app.invalid_credentials', data: { environment: 'sandbox', clientId: 'z' } });
    const [delivery] = await deliveriesOf(endpoint.id);
    await deliverer().deliver(delivery!.id);
    const signed = receiver.received[0]!;
    expect(signed.headers['webhook-signature']!.split(' ')).toHaveLength(1);
    expect(() => new Webhook(secret).verify(signed.body, signed.headers)).not.toThrow();
  });

  it('in production, re-resolves the host before each attempt and refuses a private address without sending', async () => {
    const { endpoint } = await service().create({ url: receiver.url });
    await writeEvent(prisma(), { type: 'oauth_app.invalid_credentials', data: { environment: 'sandbox', clientId: 'x' } });
    const [delivery] = await deliveriesOf(endpoint.id);
    // The endpoint was saved when its host was public; its DNS now points inside.
    await prisma().webhookEndpoint.update({ where: { id: endpoint.id }, data: { url: 'https://hooks.example.com/lc' } });
    const lookup: LookupAll = async () => [{ address: '10.0.0.7', family: 4 }];
    const production = deliverer({ config: { webhooks: { ...webhooksConfig, ssrfGuard: true } }, lookup });
    expect(await production.deliver(delivery!.id)).toMatchObject({ outcome: 'retry' });
    const row = await prisma().webhookDelivery.findUniqueOrThrow({ where: { id: delivery!.id } });
    expect(row.lastError).toMatch(/private or reserved address \(10\.0\.0\.7\)/);
    expect(receiver.received).toHaveLength(0);
  });

  describe('SSRF at connect time', () => {
    const production = (allowedHosts: string[], lookup: LookupAll) =>
      deliverer({ config: { webhooks: { ...webhooksConfig, ssrfGuard: true, allowedHosts } }, lookup });
    const pendingDelivery = async (url: string) => {
      const { endpoint } = await service().create({ url: receiver.url });
      await writeEvent(prisma(), { type: 'oauth_app.invalid_credentials', data: { environment: 'sandbox', clientId: 'x' } });
      const [delivery] = await deliveriesOf(endpoint.id);
      // Saved while it was acceptable; what matters is where the attempt connects.
      await prisma().webhookEndpoint.update({ where: { id: endpoint.id }, data: { url } });
      return delivery!;
    };
    const row = (id: string) => prisma().webhookDelivery.findUniqueOrThrow({ where: { id } });

    it('connects to the address it checked, so a host re-pointed at a private address (DNS rebinding) gets no connection', async () => {
      // 127.0.0.1 plays the private network; 127.0.0.2, allow-listed, plays a public address. "localhost"
      // is the name, so that a client resolving it on its own (the system resolver) would reach 127.0.0.1.
      const inside = await startForbiddenListener('127.0.0.1');
      const outside = await startSniRecorder('127.0.0.2', inside.port);
      try {
        const answers: string[] = [];
        const lookup: LookupAll = async () => {
          const address = answers.length === 0 ? '127.0.0.2' : '127.0.0.1'; // TTL 0: public first, then private
          answers.push(address);
          return [{ address, family: 4 }];
        };
        const delivery = await pendingDelivery(`https://localhost:${inside.port}/hooks`);
        const deliver = production(['127.0.0.2'], lookup);

        // First attempt: one lookup, and the connection goes where it answered, under the host name (SNI).
        expect(await deliver.deliver(delivery.id)).toMatchObject({ outcome: 'retry' }); // the recorder refuses the handshake
        expect(inside.connections()).toBe(0);
        expect(answers).toEqual(['127.0.0.2']);
        expect(outside.serverNames).toEqual(['localhost']);

        // Second attempt: the name now answers a private address, and is refused before any connection.
        clock += 1_000;
        expect(await deliver.deliver(delivery.id)).toMatchObject({ outcome: 'retry' });
        expect((await row(delivery.id)).lastError).toBe(`url: localhost resolves to a private or reserved address (127.0.0.1)`);
        expect(inside.connections()).toBe(0);
        expect(receiver.received).toHaveLength(0);
      } finally {
        await outside.close();
        await inside.close();
      }
    });

    it('checks an IP-literal URL before connecting (no lookup runs for it), honouring the allow-list', async () => {
      const inside = await startForbiddenListener('127.0.0.1');
      try {
        const lookup: LookupAll = async () => {
          throw new Error('no lookup expected for an IP literal');
        };
        const delivery = await pendingDelivery(`https://127.0.0.1:${inside.port}/hooks`);
        expect(await production([], lookup).deliver(delivery.id)).toMatchObject({ outcome: 'retry' });
        expect((await row(delivery.id)).lastError).toBe('url: 127.0.0.1 resolves to a private or reserved address (127.0.0.1)');
        expect(inside.connections()).toBe(0);

        // Allow-listed (on-prem receivers), the same address is reached.
        clock += 1_000;
        expect(await production(['127.0.0.0/8'], lookup).deliver(delivery.id)).toMatchObject({ outcome: 'retry' });
        expect(inside.connections()).toBe(1);
      } finally {
        await inside.close();
      }
    });

    it('outside production, resolves and reaches http://localhost without an address check', async () => {
      const { endpoint } = await service().create({ url: receiver.url.replace('127.0.0.1', 'localhost') });
      await writeEvent(prisma(), { type: 'oauth_app.invalid_credentials', data: { environment: 'sandbox', clientId: 'x' } });
      const [delivery] = await deliveriesOf(endpoint.id);
      expect(await deliverer().deliver(delivery!.id)).toEqual({ outcome: 'succeeded' });
      expect(receiver.received[0]!.headers.host).toBe(new URL(receiver.url).host.replace('127.0.0.1', 'localhost'));
    });

    it('does not follow a redirect: a 3xx is a failed attempt', async () => {
      const { endpoint } = await service().create({ url: receiver.url });
      await writeEvent(prisma(), { type: 'oauth_app.invalid_credentials', data: { environment: 'sandbox', clientId: 'x' } });
      const [delivery] = await deliveriesOf(endpoint.id);
      receiver.setResponder(() => ({ status: 307, headers: { location: `${receiver.url}/elsewhere` } }));
      expect(await deliverer().deliver(delivery!.id)).toMatchObject({ outcome: 'retry' });
      expect(await row(delivery!.id)).toMatchObject({ responseStatus: 307, lastError: 'HTTP 307' });
      expect(receiver.received).toHaveLength(1);
    });
  });

  it('lets a stale worker neither re-send nor overwrite a newer attempt', async () => {
    const { endpoint } = await service().create({ url: receiver.url });
    await writeEvent(prisma(), { type: 'oauth_app.invalid_credentials', data: { environment: 'sandbox', clientId: 'x' } });
    const [delivery] = await deliveriesOf(endpoint.id);
    receiver.setResponder((_r, i) => (i === 0 ? 'hold' : 200));
    const slow = deliverer({ timeoutMs: 1_500 }).deliver(delivery!.id);
    await expect.poll(() => receiver.received.length).toBe(1);
    // While the first attempt is in flight its lease keeps others off.
    expect(await deliverer().deliver(delivery!.id)).toMatchObject({ outcome: 'not_due' });
    // Once the lease is over (the first worker presumed dead), another worker takes over and succeeds.
    clock += 10_000;
    expect(await deliverer().deliver(delivery!.id)).toEqual({ outcome: 'succeeded' });
    expect(await slow).toEqual({ outcome: 'skipped' });
    const row = await prisma().webhookDelivery.findUniqueOrThrow({ where: { id: delivery!.id } });
    expect(row).toMatchObject({ status: 'succeeded', attempts: 2, responseStatus: 200 });
  });

  it('delivers webhook.test only to its endpoint, born relayed', async () => {
    const { endpoint, secret } = await service().create({ url: receiver.url, eventTypes: ['connection.created'] });
    await service().create({ url: receiver.url });
    const { eventId, deliveryId } = await service().sendTest(endpoint.id);
    expect(await relay().relayAll(async () => undefined)).toBe(0);
    expect(await prisma().webhookDelivery.count()).toBe(1);
    expect(await deliverer().deliver(deliveryId)).toEqual({ outcome: 'succeeded' });
    const { headers, body } = receiver.received[0]!;
    expect(new Webhook(secret).verify(body, headers)).toMatchObject({ id: eventId, type: 'webhook.test', data: { endpointId: endpoint.id } });
  });
});
