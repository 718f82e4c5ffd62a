import type { Principal } from './types.ts';

export type PageName = 'overview' | 'connections' | 'connection' | 'webhooks' | 'api-keys';

/**
 * Which pages a signed-in key may open: the one place the console decides what to show. The server decides
 * what a key may do (every call goes through the same access checks as the key would), so this only hides
 * what would answer 403. Webhook endpoints and API keys are admin routes; a tenant key sees its own tenant's
 * connections. When keys carry scopes, the session will list them and this function reads them.
 */
export function canSee(page: PageName, principal: Principal): boolean {
  if (page === 'webhooks' || page === 'api-keys') return principal.admin;
  return true;
}
