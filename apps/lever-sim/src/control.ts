import type { FastifyInstance } from 'fastify';
import { checkAccessToken } from './access-tokens.js';
import type { SimContext } from './context.js';
import { FAULT_KINDS, FAULT_TARGETS, faultApplies, type FaultKind, type FaultTarget } from './faults.js';
import { countRefreshableGrants } from './grant-lifetime.js';
import type { RuntimeConfig } from './options.js';
import type { Grant, Rotation } from './store.js';

function rotationView(rotation: Rotation) {
  return {
    at: new Date(rotation.at).toISOString(),
    delivered: rotation.delivered,
    settledAt: rotation.settledAt === undefined ? null : new Date(rotation.settledAt).toISOString(),
    clientPort: rotation.clientPort,
    ...(rotation.lostBy ? { lostBy: rotation.lostBy } : {}),
  };
}

function grantView(grant: Grant) {
  return {
    id: grant.id,
    account: grant.account,
    clientId: grant.clientId,
    audience: grant.audience,
    scope: grant.scope.join(' '),
    status: grant.status,
    createdAt: new Date(grant.createdAt).toISOString(),
    ...(grant.revokedAt !== undefined ? { revokedAt: new Date(grant.revokedAt).toISOString() } : {}),
    ...(grant.revokedReason ? { revokedReason: grant.revokedReason } : {}),
    refreshCount: grant.refreshCount,
    rotations: grant.rotations,
    lastRotation: grant.lastRotation ? rotationView(grant.lastRotation) : null,
    undeliveredRotations: grant.undelivered.map(rotationView),
  };
}

interface FaultBody {
  target: FaultTarget;
  kind: FaultKind;
  count?: number;
  delayMs?: number;
  retryAfterSeconds?: number;
  matchAccount?: string;
}

const faultSchema = {
  type: 'object',
  required: ['target', 'kind'],
  additionalProperties: false,
  properties: {
    target: { type: 'string', enum: [...FAULT_TARGETS] },
    kind: { type: 'string', enum: [...FAULT_KINDS] },
    count: { type: 'integer', minimum: 1, default: 1 },
    delayMs: { type: 'integer', minimum: 0 },
    retryAfterSeconds: { type: 'integer', minimum: 0 },
    matchAccount: { type: 'string', minLength: 1 },
  },
} as const;

const configSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    accessTokenTtlSeconds: { type: 'integer', minimum: 1 },
    reuseLeewaySeconds: { type: 'number', minimum: 0 },
    mode: { type: 'string', enum: ['production', 'sandbox'] },
    latencyMs: { type: 'integer', minimum: 0 },
    autoApprove: { type: 'boolean' },
  },
} as const;

/**
 * The control plane tests and demos drive: counters, the clock, faults, grants, config, introspection,
 * issued secrets. Mounted only when enabled (never in production: it can revoke grants, read any token's
 * state and list every token it issued).
 */
export async function controlRoutes(app: FastifyInstance, { ctx }: { ctx: SimContext }) {
  const effectiveConfig = () => ({ ...ctx.config, audiences: [...ctx.audiences], publicUrl: ctx.options.publicUrl ?? null });

  app.get('/stats', async () => ctx.stats.snapshot(countRefreshableGrants(ctx.store, ctx.clock.now())));
  app.get('/stats/api', async () => ctx.apiStats.view(ctx.clock.now()));

  // For leak scans (grep a database dump or a log for any of these). The lists are bounded per kind
  // (SimOptions.secretsLimit); the header says how many were dropped, so a scan can tell it was partial.
  app.get('/secrets', async (_request, reply) => {
    const dropped = ctx.store.secrets.dropped();
    return reply
      .header('cache-control', 'no-store')
      .header('x-sim-secrets-dropped', String(dropped.accessTokens + dropped.refreshTokens + dropped.codes))
      .send(ctx.store.secrets.list());
  });

  app.get('/clock', async () => ({ now: new Date(ctx.clock.now()).toISOString(), offsetSeconds: ctx.clock.offsetMs() / 1000 }));
  app.post<{ Body: { advanceSeconds: number } }>(
    '/clock',
    {
      schema: {
        body: {
          type: 'object',
          required: ['advanceSeconds'],
          properties: { advanceSeconds: { type: 'number', minimum: 0 } },
        },
      },
    },
    async (request) => {
      ctx.clock.advance(request.body.advanceSeconds);
      return { now: new Date(ctx.clock.now()).toISOString(), offsetSeconds: ctx.clock.offsetMs() / 1000 };
    },
  );

  app.get('/faults', async () => ctx.faults.list());
  app.post<{ Body: FaultBody }>('/faults', { schema: { body: faultSchema } }, async (request, reply) => {
    if (request.body.retryAfterSeconds !== undefined && request.body.kind !== '429') {
      return reply.code(400).send({ error: 'bad_request', message: 'retryAfterSeconds applies to kind 429 only' });
    }
    if (!faultApplies(request.body.target, request.body.kind)) {
      return reply.code(400).send({ error: 'bad_request', message: `kind ${request.body.kind} does not apply at target ${request.body.target}` });
    }
    return reply.code(201).send(ctx.faults.add(request.body));
  });
  app.delete('/faults', async (_request, reply) => {
    ctx.faults.clear();
    return reply.code(204).send();
  });

  // `?account=` narrows the list to one Lever account, so a test can find "its" grant among many.
  app.get<{ Querystring: { account?: string } }>('/grants', async (request) => {
    const account = request.query.account;
    return ctx.store
      .listGrants()
      .filter((grant) => account === undefined || grant.account === account)
      .map(grantView);
  });
  app.post<{ Params: { id: string } }>('/grants/:id/revoke', async (request, reply) => {
    const grant = ctx.store.findGrant(request.params.id);
    if (!grant) return reply.code(404).send({ error: 'not_found', message: `No grant ${request.params.id}` });
    if (ctx.store.revokeGrant(grant, 'customer_uninstalled', ctx.clock.now())) ctx.stats.increment('grantsRevoked');
    return grantView(grant);
  });

  app.post('/reset', async (_request, reply) => {
    ctx.reset();
    return reply.code(204).send();
  });

  app.get('/config', async () => effectiveConfig());
  app.post<{ Body: Partial<RuntimeConfig> }>('/config', { schema: { body: configSchema } }, async (request) => {
    Object.assign(ctx.config, request.body);
    return effectiveConfig();
  });

  app.post<{ Body: { token: string } }>(
    '/introspect',
    { schema: { body: { type: 'object', required: ['token'], properties: { token: { type: 'string' } } } } },
    async (request) => {
      const check = checkAccessToken(ctx, request.body.token);
      if (!check.ok) return { active: false, reason: check.reason, ...(check.account ? { account: check.account } : {}) };
      return {
        active: true,
        account: check.grant.account,
        grantId: check.grant.id,
        clientId: check.grant.clientId,
        aud: check.claims.aud,
        scope: check.claims.scope,
        exp: check.claims.exp,
      };
    },
  );
}
