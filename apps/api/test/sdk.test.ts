import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  ConflictError,
  ForbiddenError,
  LeverConnect,
  LeverConnectError,
  NeedsReauthError,
  NetworkError,
  NotFoundError,
  UnauthorizedError,
  UnavailableError,
  ValidationError,
  verifyWebhook,
  WebhookVerificationError,
  type AccessToken,
  type Connection,
} from '@lever-connect/sdk';
import { freePort } from '@lever-connect/testing';
import { signedHeaders } from '@lever-connect/webhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from './helpers.js';

/** The rejection of a promise (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<LeverConnectError> {
  const outcome = await promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome)) throw new Error(`expected a rejection, got ${JSON.stringify(outcome.value)}`);
  expect(outcome.error).toBeInstanceOf(LeverConnectError);
  return outcome.error as LeverConnectError;
}

const listen = (server: http.Server) =>
  new Promise<string>((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
const close = (server: http.Server | undefined) =>
  new Promise<void>((resolve) => {
    if (!server) return resolve();
    server.closeAllConnections();
    server.close(() => resolve());
  });

describe('the SDK against a running api', () => {
  let t: TestApp;
  let baseUrl: string;
  let tenant: LeverConnect;
  let admin: LeverConnect;

  /** A connection of tenant-a with a fresh token (an hour left), so no Lever call is needed. */
  async function insertConnection(fields: { status?: 'active' | 'needs_reauth' | 'disconnected'; reauthReason?: string } = {}) {
    const prisma = t.db.db.prisma;
    const row = await prisma.tenant.upsert({ where: { externalId: 'tenant-a' }, create: { externalId: 'tenant-a' }, update: {} });
    const id = randomUUID();
    const accessToken = `at_${randomBytes(16).toString('hex')}`;
    const now = new Date();
    await prisma.connection.create({
      data: {
        id,
        tenantId: row.id,
        environment: 'sandbox',
        leverAccountId: `acct_${id.slice(0, 8)}`,
        scopes: ['offline_access'],
        accessTokenCiphertext: t.core.cipher.encrypt(accessToken, { row: id, column: 'accessToken' }),
        refreshTokenCiphertext: t.core.cipher.encrypt(`rt_${randomBytes(16).toString('hex')}`, { row: id, column: 'refreshToken' }),
        accessTokenExpiresAt: new Date(now.getTime() + 3600_000),
        refreshTokenIssuedAt: now,
        grantCreatedAt: now,
        ...fields,
      },
    });
    return { id, accessToken };
  }

  beforeAll(async () => {
    t = await buildTestApp();
    baseUrl = await t.app.listen({ host: '127.0.0.1', port: 0 });
    tenant = new LeverConnect({ baseUrl, apiKey: t.tenantKey });
    admin = new LeverConnect({ baseUrl: `${baseUrl}/`, apiKey: t.adminKey });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('lists and gets connections, typed from the OpenAPI document', async () => {
    const { id } = await insertConnection();
    const page = await tenant.connections.list({ limit: 100 });
    expect(page.nextCursor).toBeNull();
    expect(page.data.map((c) => c.id)).toContain(id);
    const connection: Connection = await tenant.connections.get(id);
    expect(connection).toMatchObject({ id, status: 'active', tenant: { externalId: 'tenant-a' }, environment: 'sandbox' });

    const ids: string[] = [];
    for await (const c of admin.connections.listAll({ tenant: 'tenant-a', limit: 1 })) ids.push(c.id);
    expect(ids).toEqual(page.data.map((c) => c.id));
  });

  it('returns a typed access token and audits the read', async () => {
    const { id, accessToken } = await insertConnection();
    const token: AccessToken = await tenant.connections.accessToken(id);
    expect(token).toMatchObject({ accessToken, tokenType: 'Bearer', scopes: ['offline_access'] });
    expect(Date.parse(token.expiresAt)).toBeGreaterThan(Date.now());
    const reads = await tenant.connections.tokenReads(id);
    expect(reads.data).toHaveLength(1);
    expect(JSON.stringify(reads)).not.toContain(accessToken);
  });

  it('throws NeedsReauthError with the reason', async () => {
    const { id } = await insertConnection({ status: 'needs_reauth', reauthReason: 'invalid_grant' });
    for (const call of [() => tenant.connections.accessToken(id), () => tenant.connections.refresh(id)]) {
      const error = await rejection(call());
      expect(error).toBeInstanceOf(NeedsReauthError);
      expect(error).toBeInstanceOf(ConflictError);
      expect(error).toMatchObject({ status: 409, code: 'needs_reauth', reason: 'invalid_grant', requestId: expect.any(String) });
    }
  });

  it('throws typed errors for 404, 400, 401, 403 and a disconnected connection', async () => {
    const missing = await rejection(tenant.connections.get(randomUUID()));
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(missing).toMatchObject({ status: 404, code: 'not_found', message: 'Connection not found' });

    const invalid = await rejection(tenant.connections.get('not-a-uuid'));
    expect(invalid).toBeInstanceOf(ValidationError);
    expect((invalid as ValidationError).field).toBe('params.id');

    const unauthorized = await rejection(new LeverConnect({ baseUrl, apiKey: 'lc_nope' }).connections.list());
    expect(unauthorized).toBeInstanceOf(UnauthorizedError);

    expect(await rejection(tenant.apiKeys.list())).toBeInstanceOf(ForbiddenError);

    const { id } = await insertConnection();
    await tenant.connections.delete(id);
    expect(await tenant.connections.get(id)).toMatchObject({ status: 'disconnected' });
    const gone = await rejection(tenant.connections.accessToken(id));
    expect(gone).toBeInstanceOf(ConflictError);
    expect(gone).not.toBeInstanceOf(NeedsReauthError);
    expect(gone.code).toBe('connection_disconnected');
  });

  it('covers connect sessions, tenants, events, API keys and webhook endpoints', async () => {
    const session = await tenant.connectSessions.create({ tenant: { externalId: 'tenant-a' }, environment: 'sandbox' });
    expect(session.connectUrl).toContain(session.token);

    expect((await tenant.tenants.list()).data.map((x) => x.externalId)).toEqual(['tenant-a']);
    expect((await tenant.tenants.get('tenant-a')).connections.length).toBeGreaterThan(0);
    const events = await admin.events.list({ type: 'connection.deleted' });
    expect(events.data.every((e) => e.type === 'connection.deleted')).toBe(true);

    const created = await admin.apiKeys.create({ name: 'sdk', tenantExternalId: 'tenant-sdk' });
    expect(created.key).toMatch(/^lc_/);
    expect((await admin.apiKeys.list()).data.map((k) => k.id)).toContain(created.apiKey.id);
    await admin.apiKeys.revoke(created.apiKey.id);
    expect(await rejection(new LeverConnect({ baseUrl, apiKey: created.key }).connections.list())).toBeInstanceOf(UnauthorizedError);
    expect((await admin.tenants.delete('tenant-sdk')).disconnected).toBe(0);

    const endpoint = await admin.webhookEndpoints.create({ url: 'http://localhost:9/hooks', eventTypes: ['connection.deleted'] });
    expect(endpoint.secret).toMatch(/^whsec_/);
    expect((await admin.webhookEndpoints.list()).data.map((e) => e.id)).toContain(endpoint.id);
    expect(await admin.webhookEndpoints.update(endpoint.id, { description: 'from the sdk' })).toMatchObject({ description: 'from the sdk' });
    expect((await admin.webhookEndpoints.get(endpoint.id)).eventTypes).toEqual(['connection.deleted']);
    const rotated = await admin.webhookEndpoints.rotateSecret(endpoint.id, { overlapSeconds: 0 });
    expect(rotated.secret).not.toBe(endpoint.secret);
    const sent = await admin.webhookEndpoints.test(endpoint.id);
    const deliveries = await admin.webhookEndpoints.deliveries(endpoint.id);
    expect(deliveries.data.map((d) => d.id)).toContain(sent.deliveryId);
    expect(await admin.webhookEndpoints.retryDelivery(endpoint.id, sent.deliveryId)).toEqual({ deliveryId: sent.deliveryId, status: 'pending' });
    await admin.webhookEndpoints.delete(endpoint.id);
    expect(await rejection(admin.webhookEndpoints.get(endpoint.id))).toBeInstanceOf(NotFoundError);
  });

  describe('retries', () => {
    let proxy: http.Server | undefined;
    let hits: string[];
    /** How many requests the proxy answers with 503 + Retry-After before it forwards to the api. */
    let failFirst: number;
    let proxyUrl: string;

    beforeAll(async () => {
      proxy = http.createServer((req, res) => {
        hits.push(`${req.method} ${req.url}`);
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          if (hits.length <= failFirst) {
            res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
            res.end(JSON.stringify({ error: { code: 'busy', message: 'try again' }, requestId: `proxy-${hits.length}` }));
            return;
          }
          const body = chunks.length ? Buffer.concat(chunks) : undefined;
          fetch(`${baseUrl}${req.url}`, {
            method: req.method,
            headers: { authorization: req.headers.authorization ?? '', ...(body ? { 'content-type': 'application/json' } : {}) },
            body,
          }).then(
            async (answer) => {
              res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
              res.end(Buffer.from(await answer.arrayBuffer()));
            },
            () => res.writeHead(502).end(),
          );
        });
      });
      proxyUrl = await listen(proxy);
    });
    afterAll(async () => {
      await close(proxy);
    });

    it('retries an idempotent call on 503, waiting the Retry-After each time', async () => {
      const { id, accessToken } = await insertConnection();
      hits = [];
      failFirst = 2;
      const started = Date.now();
      const token = await new LeverConnect({ baseUrl: proxyUrl, apiKey: t.tenantKey }).connections.accessToken(id);
      expect(token.accessToken).toBe(accessToken);
      expect(hits).toEqual(Array(3).fill(`GET /v1/connections/${id}/access-token`));
      expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
    });

    it('retries POST /refresh too (it is coalesced, so safe to repeat)', async () => {
      const { id } = await insertConnection({ status: 'needs_reauth', reauthReason: 'revoked' });
      hits = [];
      failFirst = 1;
      const error = await rejection(new LeverConnect({ baseUrl: proxyUrl, apiKey: t.tenantKey }).connections.refresh(id));
      expect(error).toBeInstanceOf(NeedsReauthError);
      expect(hits).toHaveLength(2);
    });

    it('sends a call that creates something exactly once, and surfaces the 503 with its Retry-After', async () => {
      hits = [];
      failFirst = 5;
      const error = await rejection(
        new LeverConnect({ baseUrl: proxyUrl, apiKey: t.tenantKey }).connectSessions.create({ tenant: { externalId: 'tenant-a' } }),
      );
      expect(error).toBeInstanceOf(UnavailableError);
      expect(error).toMatchObject({ status: 503, code: 'busy', retryAfterSeconds: 1, requestId: 'proxy-1' });
      expect(hits).toEqual(['POST /v1/connect-sessions']);
    });

    it('gives up after the retry budget', async () => {
      hits = [];
      failFirst = 100;
      const lc = new LeverConnect({ baseUrl: proxyUrl, apiKey: t.tenantKey, retries: 1 });
      expect(await rejection(lc.connections.list())).toBeInstanceOf(UnavailableError);
      expect(hits).toHaveLength(2);
    });

    it('throws NetworkError when nothing answers, after retrying', async () => {
      const port = await freePort();
      const lc = new LeverConnect({ baseUrl: `http://127.0.0.1:${port}`, apiKey: t.tenantKey, retries: 2, retryPolicy: { baseDelayMs: 10 } });
      const error = await rejection(lc.connections.list());
      expect(error).toBeInstanceOf(NetworkError);
      expect(error).toMatchObject({ status: 0, code: 'network_error' });
      expect(error.message).toContain('ECONNREFUSED');
    });
  });

  it("verifies what the service's webhook signer sends (the SDK's own verifier, no service code)", () => {
    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    const body = JSON.stringify({ id: randomUUID(), type: 'webhook.test', createdAt: new Date().toISOString(), data: {} });
    const headers = signedHeaders([secret], randomUUID(), Math.floor(Date.now() / 1000), body);
    expect(verifyWebhook<{ type: string }>(secret, { ...headers }, body).type).toBe('webhook.test');
    expect(() => verifyWebhook(secret, { ...headers }, body.replace('webhook.test', 'webhook.evil'))).toThrow(WebhookVerificationError);
  });
});
