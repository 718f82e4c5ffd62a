import { ValidationError } from '@lever-connect/errors';

/**
 * What an API key may do (least privilege, DESIGN.md invariant 6), combinable with a tenant:
 * - `tokens:read`: access tokens and the Lever API proxy;
 * - `connections:read`: connections, tenants, events, token reads, Lever webhook subscriptions;
 * - `connections:write`: connect sessions, refresh, disconnect, reconcile (includes `connections:read`);
 * - `webhooks:write`: webhook endpoints (unscoped keys only: endpoints are not a tenant's);
 * - `admin`: everything, API keys and metrics included (unscoped keys only).
 */
export const SCOPES = ['tokens:read', 'connections:read', 'connections:write', 'webhooks:write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export const isScope = (value: string): value is Scope => (SCOPES as readonly string[]).includes(value);

/** What a key made before scopes existed may do: an unscoped key everything, a tenant key its tenant's full set. */
export const TENANT_FULL_SET: readonly Scope[] = ['tokens:read', 'connections:read', 'connections:write'];
export const UNSCOPED_DEFAULT: readonly Scope[] = ['admin'];

/** Whether a key holding `granted` may use a route that needs `needed`. */
export function allows(granted: readonly string[], needed: Scope): boolean {
  if (granted.includes('admin')) return true;
  if (granted.includes(needed)) return true;
  return needed === 'connections:read' && granted.includes('connections:write');
}

/**
 * The scopes a new key gets: the ones asked for (validated), or the full set for its kind. `admin` and
 * `webhooks:write` are refused for a tenant key: what they reach is not one tenant's.
 */
export function scopesForNewKey(requested: readonly string[] | undefined, tenant: boolean): Scope[] {
  if (requested === undefined) return [...(tenant ? TENANT_FULL_SET : UNSCOPED_DEFAULT)];
  if (requested.length === 0) throw new ValidationError('scopes: give at least one scope', { field: 'scopes' });
  const unknown = requested.find((s) => !isScope(s));
  if (unknown !== undefined) throw new ValidationError(`scopes: "${unknown}" is not a scope (${SCOPES.join(', ')})`, { field: 'scopes' });
  if (tenant) {
    const wide = requested.find((s) => s === 'admin' || s === 'webhooks:write');
    if (wide) throw new ValidationError(`scopes: "${wide}" reaches beyond one tenant and is refused for a tenant key`, { field: 'scopes' });
  }
  return [...new Set(requested as Scope[])];
}
