import { randomBytes } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Config } from '@lever-connect/config';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { demoPage } from '../pages/demo-page.js';
import { DateTime, errorResponses, LeverEnvironmentSchema, Nullable, Uuid } from '../schemas.js';

const TenantExternalId = Type.String({ minLength: 1, maxLength: 200, pattern: '^[^\\s].*$', description: "The tenant's externalId" });

const DemoConnection = Type.Object(
  {
    id: Uuid,
    status: Type.Union([Type.Literal('active'), Type.Literal('needs_reauth'), Type.Literal('disconnected')]),
    environment: LeverEnvironmentSchema,
    leverAccountId: Type.String(),
    accessTokenExpiresAt: Nullable(DateTime),
    nextRefreshAt: Nullable(DateTime),
    lastRefreshedAt: Nullable(DateTime),
    reauthReason: Nullable(Type.String()),
  },
  { additionalProperties: false },
);

const DemoSessionBody = Type.Object(
  {
    tenant: TenantExternalId,
    environment: Type.Optional(LeverEnvironmentSchema),
    connectionId: Type.Optional(Uuid),
  },
  { additionalProperties: false },
);

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/**
 * The demo runs only against the Lever simulator. Its routes are public on purpose (anyone reaching them can
 * create connect sessions for any tenant), so NODE_ENV is not enough: an api in development mode pointed at
 * real Lever (LEVER_ENV=live) would hand out sessions for real customers' accounts.
 */
export function isDemoEnabled(config: Pick<Config, 'lever' | 'demoEnabled'>): boolean {
  // Both, though the config already refuses DEMO_ENABLED outside simulator mode: these pages are unauthenticated.
  return config.demoEnabled && config.lever.mode === 'simulator';
}

/**
 * The demo: a page with the connect button, and the two calls an operator's backend would make (create a
 * connect session, list connections). Registers nothing unless `isDemoEnabled`: DEMO_ENABLED=true in
 * simulator mode, which the config refuses under NODE_ENV=production.
 */
export default async function demoRoutes(app: FastifyInstance) {
  const { config } = app.core;
  if (!isDemoEnabled(config)) return;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    '/demo',
    {
      schema: {
        tags: ['demo'],
        summary: 'The demo page: connect a Lever (simulator) account for a tenant (development only)',
        querystring: Type.Object({ tenant: Type.Optional(Type.String({ maxLength: 200 })) }),
        response: { 200: Type.String() },
      },
    },
    async (request, reply) => {
      const nonce = randomBytes(16).toString('base64');
      const html = demoPage({
        nonce,
        tenant: request.query.tenant?.trim() || 'demo-tenant',
        leverMode: config.lever.mode,
        environments: (['production', 'sandbox'] as const).filter((e) => config.lever.environments[e].clientId !== ''),
      });
      return reply
        .header(
          'content-security-policy',
          `default-src 'none'; script-src 'self' 'nonce-${nonce}'; connect-src 'self'; style-src 'unsafe-inline'; ` +
            `img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`,
        )
        .header('cache-control', 'no-store')
        .header('referrer-policy', 'no-referrer')
        .header('x-content-type-options', 'nosniff')
        .type('text/html; charset=utf-8')
        .send(html);
    },
  );

  r.get(
    '/demo/api/connections',
    {
      schema: {
        tags: ['demo'],
        summary: "A tenant's connections for the demo table (never a token)",
        querystring: Type.Object({ tenant: TenantExternalId }, { additionalProperties: false }),
        response: { 200: Type.Object({ data: Type.Array(DemoConnection) }), ...errorResponses(400) },
      },
    },
    async (request, reply) => {
      const rows = await app.core.connections.summaries(request.query.tenant, 100);
      void reply.header('cache-control', 'no-store');
      return {
        data: rows.map((c) => ({
          ...c,
          accessTokenExpiresAt: iso(c.accessTokenExpiresAt),
          nextRefreshAt: iso(c.nextRefreshAt),
          lastRefreshedAt: iso(c.lastRefreshedAt),
        })),
      };
    },
  );

  r.post(
    '/demo/api/connect-sessions',
    {
      schema: {
        tags: ['demo'],
        summary: 'Create a connect session for the demo button (what an operator backend does with POST /v1/connect-sessions)',
        body: DemoSessionBody,
        response: {
          201: Type.Object({ connectUrl: Type.String(), expiresAt: DateTime }),
          ...errorResponses(400, 404),
        },
      },
    },
    async (request, reply) => {
      const { tenant, environment, connectionId } = request.body;
      // The redirect fallback (popup blocked) comes back to the demo page, which reads ?status=.
      const returnUrl = `${config.publicBaseUrl}/demo?tenant=${encodeURIComponent(tenant)}`;
      const session = await app.core.connect.createSession({ tenant: { externalId: tenant }, environment, connectionId, returnUrl });
      return reply.code(201).header('cache-control', 'no-store').send({ connectUrl: session.connectUrl, expiresAt: session.expiresAt.toISOString() });
    },
  );
}
