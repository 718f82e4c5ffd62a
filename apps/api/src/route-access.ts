import type { Scope } from '@lever-connect/connections';

/**
 * Who may call each route. Every route of the app must be listed (the app refuses to start otherwise, and a
 * test walks this table):
 * - `public`: no API key (health checks, the customer-facing connect pages, docs).
 * - `tenant`: any API key; a tenant-scoped key sees only its own tenant's data (others are 404).
 * - `admin`: unscoped keys only; a tenant-scoped key gets 403.
 * Every route that needs a key also names the scope it needs (ROUTE_SCOPES; 403 `insufficient_scope`).
 */
export type Access = 'public' | 'tenant' | 'admin';

export const ROUTE_ACCESS: Record<string, Access> = {
  'GET /healthz': 'public',
  'GET /readyz': 'public',
  'GET /openapi.json': 'public',
  'POST /v1/connect-sessions': 'tenant',
  'GET /connect/:token': 'public',
  'GET /connect/:token/result': 'public',
  'GET /oauth/callback': 'public',
  'GET /v1/connections': 'tenant',
  'GET /v1/connections/:id': 'tenant',
  'DELETE /v1/connections/:id': 'tenant',
  'GET /v1/connections/:id/access-token': 'tenant',
  'POST /v1/connections/:id/refresh': 'tenant',
  'GET /v1/connections/:id/token-reads': 'tenant',
  'GET /v1/connections/:id/lever/*': 'tenant',
  'POST /v1/connections/:id/lever/*': 'tenant',
  'PUT /v1/connections/:id/lever/*': 'tenant',
  'PATCH /v1/connections/:id/lever/*': 'tenant',
  'DELETE /v1/connections/:id/lever/*': 'tenant',
  'GET /v1/connections/:id/lever-webhooks': 'tenant',
  'POST /v1/connections/:id/lever-webhooks/reconcile': 'tenant',
  'POST /lever/webhooks/:subscriptionId': 'public',
  'GET /v1/tenants': 'tenant',
  'GET /v1/tenants/:externalId': 'tenant',
  'DELETE /v1/tenants/:externalId': 'tenant',
  'GET /v1/events': 'tenant',
  'GET /v1/overview': 'tenant',
  'POST /v1/webhook-endpoints': 'admin',
  'GET /v1/webhook-endpoints': 'admin',
  'GET /v1/webhook-endpoints/:id': 'admin',
  'PATCH /v1/webhook-endpoints/:id': 'admin',
  'DELETE /v1/webhook-endpoints/:id': 'admin',
  'POST /v1/webhook-endpoints/:id/rotate-secret': 'admin',
  'POST /v1/webhook-endpoints/:id/test': 'admin',
  'GET /v1/webhook-endpoints/:id/deliveries': 'admin',
  'POST /v1/webhook-endpoints/:id/deliveries/:deliveryId/retry': 'admin',
  'GET /metrics': 'admin',
  'POST /v1/api-keys': 'admin',
  'GET /v1/api-keys': 'admin',
  'DELETE /v1/api-keys/:id': 'admin',
  'GET /connect-button.js': 'public',
  // The operator console (src/console/): its page and files, and its sign-in, which checks the key itself.
  // Its data comes from the /v1 routes above, with the session cookie standing for the key.
  'GET /console': 'public',
  'GET /console/*': 'public',
  'POST /console/session': 'public',
  'GET /console/session': 'public',
  'DELETE /console/session': 'public',
  'GET /demo': 'public',
  'GET /demo/api/connections': 'public',
  'POST /demo/api/connect-sessions': 'public',
};

/**
 * The scope each keyed route needs (packages/connections/src/access/scopes.ts): `connections:write`
 * includes `connections:read`, and `admin` includes everything.
 */
export const ROUTE_SCOPES: Record<string, Scope> = {
  'POST /v1/connect-sessions': 'connections:write',
  'GET /v1/connections': 'connections:read',
  'GET /v1/connections/:id': 'connections:read',
  'DELETE /v1/connections/:id': 'connections:write',
  'GET /v1/connections/:id/access-token': 'tokens:read',
  'POST /v1/connections/:id/refresh': 'connections:write',
  'GET /v1/connections/:id/token-reads': 'connections:read',
  'GET /v1/connections/:id/lever/*': 'tokens:read',
  'POST /v1/connections/:id/lever/*': 'tokens:read',
  'PUT /v1/connections/:id/lever/*': 'tokens:read',
  'PATCH /v1/connections/:id/lever/*': 'tokens:read',
  'DELETE /v1/connections/:id/lever/*': 'tokens:read',
  'GET /v1/connections/:id/lever-webhooks': 'connections:read',
  'POST /v1/connections/:id/lever-webhooks/reconcile': 'connections:write',
  'GET /v1/tenants': 'connections:read',
  'GET /v1/tenants/:externalId': 'connections:read',
  'DELETE /v1/tenants/:externalId': 'connections:write',
  'GET /v1/events': 'connections:read',
  'GET /v1/overview': 'connections:read',
  'POST /v1/webhook-endpoints': 'webhooks:write',
  'GET /v1/webhook-endpoints': 'webhooks:write',
  'GET /v1/webhook-endpoints/:id': 'webhooks:write',
  'PATCH /v1/webhook-endpoints/:id': 'webhooks:write',
  'DELETE /v1/webhook-endpoints/:id': 'webhooks:write',
  'POST /v1/webhook-endpoints/:id/rotate-secret': 'webhooks:write',
  'POST /v1/webhook-endpoints/:id/test': 'webhooks:write',
  'GET /v1/webhook-endpoints/:id/deliveries': 'webhooks:write',
  'POST /v1/webhook-endpoints/:id/deliveries/:deliveryId/retry': 'webhooks:write',
  'GET /metrics': 'admin',
  'POST /v1/api-keys': 'admin',
  'GET /v1/api-keys': 'admin',
  'DELETE /v1/api-keys/:id': 'admin',
};

/** The scope a keyed route needs; the admin prefixes (the queue dashboard) need `admin`. */
export function scopeOf(method: string, url: string): Scope | undefined {
  if (method === 'HEAD') method = 'GET';
  return ROUTE_SCOPES[`${method} ${url}`] ?? (ADMIN_PREFIXES.some((p) => url === p || url.startsWith(`${p}/`)) ? 'admin' : undefined);
}

/** Routes registered only in simulator mode (the demo: unauthenticated pages, never with real Lever data). */
export const DEV_ONLY_ROUTES = new Set(['GET /demo', 'GET /demo/api/connections', 'POST /demo/api/connect-sessions']);

/** Route prefixes served by third-party plugins: Swagger UI's assets, the queue dashboard (bull-board). */
export const PUBLIC_PREFIXES = ['/docs'];
export const ADMIN_PREFIXES = ['/admin/queues'];

export function accessOf(method: string, url: string): Access | undefined {
  if (method === 'HEAD') method = 'GET';
  const exact = ROUTE_ACCESS[`${method} ${url}`];
  if (exact) return exact;
  if (PUBLIC_PREFIXES.some((p) => url === p || url.startsWith(`${p}/`))) return 'public';
  if (ADMIN_PREFIXES.some((p) => url === p || url.startsWith(`${p}/`))) return 'admin';
  return undefined;
}
