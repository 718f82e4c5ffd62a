import type { SimContext } from './context.js';
import type { Grant } from './store.js';

/**
 * Why grants die: `refresh_token_reuse` and `code_reuse` (Auth0's theft detection), `customer_uninstalled`
 * (a Lever Super Admin removed the app), `fault_injected` (an `invalid_grant` fault), `client_revoked` (the
 * client called `POST /oauth/revoke`, as lever-connect does on disconnect).
 */
export type RevokeReason = 'refresh_token_reuse' | 'code_reuse' | 'customer_uninstalled' | 'fault_injected' | 'client_revoked';

/** Revoking the grant kills every token of it at once: refreshes and API calls check the grant's status. */
export function revokeGrant(ctx: Pick<SimContext, 'store' | 'stats' | 'clock'>, grant: Grant, reason: RevokeReason): void {
  if (ctx.store.revokeGrant(grant, reason, ctx.clock.now())) ctx.stats.increment('grantsRevoked');
}
