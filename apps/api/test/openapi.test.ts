import swagger from '@fastify/swagger';
import { compileErrors, validate } from '@readme/openapi-parser';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessOf, DEV_ONLY_ROUTES, ROUTE_ACCESS, type Access } from '../src/route-access.js';
import { bearer, buildTestApp, type TestApp } from './helpers.js';

/** Served by the app but deliberately absent from the document (hidden, or not JSON). */
const UNDOCUMENTED = new Set(['GET /openapi.json', 'GET /metrics', 'GET /console', 'GET /console/*']);

interface Operation {
  parameters?: Array<{ in: string; name: string; schema?: { format?: string } }>;
  requestBody?: unknown;
  responses?: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>;
}
type Document = { openapi: string; paths?: Record<string, Record<string, Operation>> };

/**
 * Every route the app registered, as `METHOD /url`: the api's own table (plugins/auth.ts records each route
 * as it is added), else read from `printRoutes` (a tree: each line adds its segment to its parent's; it
 * prints a wildcard after a static segment, `/lever/*`, as a bare `*`). HEAD twins of GET routes are left out.
 */
function registeredRoutes(app: FastifyInstance): string[] {
  if (Array.isArray((app as { routeTable?: unknown }).routeTable)) return [...app.routeTable];
  const routes: string[] = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^((?:│ {3}| {4})*)[├└]── (\S+)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!match) continue;
    const depth = [...match[1]!].length / 4;
    stack.length = depth;
    // A wildcard child prints as `*` under its parent (`/docs` + `*` is `/docs/*`).
    stack.push(match[2] === '*' && !stack.join('').endsWith('/') ? '/*' : match[2]!);
    for (const method of (match[3] ?? '').split(', ').filter(Boolean)) {
      if (method !== 'HEAD') routes.push(`${method} ${stack.join('')}`);
    }
  }
  return routes;
}

/** `/v1/connections/:id` → `/v1/connections/{id}`; a trailing wildcard `*` → `{*}` (as @fastify/swagger names it). */
const openApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\/\*$/, '/{*}');

/**
 * What the document fails to say about these routes: a missing operation, a success without a schema
 * (204/3xx excepted), a 4xx not in the error shape, and the error statuses every caller can get
 * (401 for keyed routes, 403 for admin ones, 400 where input is validated).
 */
function documentationGaps(document: Document, routes: Array<{ route: string; access: Access }>): string[] {
  const gaps: string[] = [];
  for (const { route, access } of routes) {
    const [method, url] = route.split(' ') as [string, string];
    const operation = document.paths?.[openApiPath(url)]?.[method.toLowerCase()];
    if (!operation) {
      gaps.push(`${route}: not in the document`);
      continue;
    }
    const responses = operation.responses ?? {};
    const statuses = Object.keys(responses);
    const successes = statuses.filter((s) => /^2\d\d$/.test(s));
    const redirects = statuses.filter((s) => /^3\d\d$/.test(s));
    if (successes.length === 0 && redirects.length === 0) gaps.push(`${route}: no success response`);
    for (const status of successes) {
      if (status === '204') continue;
      const schema = Object.values(responses[status]?.content ?? {})[0]?.schema;
      if (!schema || Object.keys(schema).length === 0) gaps.push(`${route}: ${status} has no schema`);
    }
    for (const status of statuses.filter((s) => /^4\d\d$/.test(s))) {
      const ref = responses[status]?.content?.['application/json']?.schema?.$ref;
      if (ref !== '#/components/schemas/ErrorResponse') gaps.push(`${route}: ${status} is not the error schema`);
    }
    const expect = (status: string, why: string) => {
      if (!responses[status]) gaps.push(`${route}: ${status} (${why}) is not declared`);
    };
    if (access !== 'public') expect('401', 'needs an API key');
    if (access === 'admin') expect('403', 'admin only');
    const validatesInput =
      operation.requestBody !== undefined ||
      (operation.parameters ?? []).some((p) => p.in === 'query' || (p.in === 'path' && p.schema?.format === 'uuid'));
    if (validatesInput) expect('400', 'validated input');
  }
  return gaps;
}

describe('the OpenAPI document', () => {
  let t: TestApp;
  let document: Document;
  beforeAll(async () => {
    t = await buildTestApp({ DEMO_ENABLED: 'true' }) // every route registered, the demo's too;
    const res = await t.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    document = res.json();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('is valid OpenAPI 3.1', async () => {
    expect(document.openapi).toBe('3.1.0');
    const result = await validate(structuredClone(document) as Parameters<typeof validate>[0]);
    expect(result.valid, result.valid ? '' : compileErrors(result)).toBe(true);
  });

  it('is served without an API key and documents the bearer scheme', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } } } });
    expect((await t.app.inject({ method: 'GET', url: '/openapi.json', headers: bearer('nonsense') })).statusCode).toBe(200);
  });

  it('reads the registered routes from the app', () => {
    const registered = registeredRoutes(t.app);
    for (const key of Object.keys(ROUTE_ACCESS)) expect(registered, key).toContain(key);
    expect(registered).toContain('GET /docs/json'); // a plugin's route, under a prefix
  });

  it('documents every registered route with a success schema and the error shape for its 4xx', () => {
    const routes = registeredRoutes(t.app)
      .filter((route) => {
        const [method, url] = route.split(' ') as [string, string];
        // Third-party prefixes (Swagger UI, the queue dashboard) and the demo are not the API.
        return ROUTE_ACCESS[route] !== undefined || accessOf(method, url) === undefined;
      })
      .filter((route) => !DEV_ONLY_ROUTES.has(route) && !UNDOCUMENTED.has(route))
      .map((route) => ({ route, access: ROUTE_ACCESS[route] ?? ('tenant' as const) }));
    expect(routes.length).toBeGreaterThan(20);
    expect(documentationGaps(document, routes)).toEqual([]);
  });

  it('documents the connection with an allow-list that has no token field', () => {
    const schemas = (document as { components?: { schemas?: Record<string, { properties?: object; additionalProperties?: unknown }> } })
      .components?.schemas;
    const connection = schemas?.Connection;
    expect(connection?.properties).toBeDefined();
    // Times about a token (accessTokenExpiresAt, refreshTokenIdleExpiresAt...) are fine; a token is not.
    const isTime = (k: string) => /(ExpiresAt|IssuedAt)$/.test(k);
    expect(Object.keys(connection!.properties!).filter((k) => /token|ciphertext|secret/i.test(k) && !isTime(k))).toEqual([]);
  });

  describe('the gap finder', () => {
    let bare: FastifyInstance;
    beforeAll(async () => {
      // A fresh app: one route without any schema, one with a success schema but a plain-object 404.
      bare = Fastify();
      await bare.register(swagger, { openapi: { openapi: '3.1.0', info: { title: 't', version: '0' } } });
      bare.get('/v1/things/:id', async () => ({}));
      bare.get(
        '/v1/others/:id',
        { schema: { response: { 200: { type: 'object', properties: { id: { type: 'string' } } }, 404: { type: 'object' } } } },
        async () => ({ id: 'x' }),
      );
      await bare.ready();
    });
    afterAll(async () => {
      await bare?.close();
    });

    it('flags a registered route without a response schema, and error statuses outside the error shape', () => {
      const routes = registeredRoutes(bare)
        .filter((r) => r.includes('/v1/'))
        .map((route) => ({ route, access: 'admin' as const }));
      expect(routes).toEqual(['GET /v1/things/:id', 'GET /v1/others/:id'].map((route) => ({ route, access: 'admin' })));
      const gaps = documentationGaps(bare.swagger() as unknown as Document, routes);
      expect(gaps).toEqual(
        expect.arrayContaining([
          'GET /v1/things/:id: 200 has no schema',
          'GET /v1/things/:id: 401 (needs an API key) is not declared',
          'GET /v1/others/:id: 404 is not the error schema',
          'GET /v1/others/:id: 403 (admin only) is not declared',
        ]),
      );
    });
  });
});
