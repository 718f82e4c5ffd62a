import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { LeverEnvironment } from '@lever-connect/config';
import type { Redis } from 'ioredis';

/** State bound to one connect session, kept in Redis for the authorize round trip. */
export interface OAuthState {
  sessionId: string;
  environment: LeverEnvironment;
  mode: 'popup' | 'redirect';
}

/** What a state may look like: anything else is never looked up. */
const STATE_SHAPE = /^[A-Za-z0-9_-]{20,100}$/;

/** Constant-time comparison of a state with the cookie (hashed first, so lengths never leak either). */
export function statesMatch(cookie: string | undefined, state: string): boolean {
  if (!cookie) return false;
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(cookie), digest(state));
}

/**
 * OAuth `state` values: random, single use (consumed with GETDEL, so of two racing callbacks one gets it),
 * bound to one connect session, and — through the state cookie — to the browser that started the flow.
 */
export function createOAuthStateStore(deps: { redis: Redis; prefix: string }) {
  const key = (state: string) => `${deps.prefix}:oauth-state:${state}`;
  const parse = (raw: string | null) => (raw ? (JSON.parse(raw) as OAuthState) : undefined);

  const store = {
    /** A fresh state for one authorize start, living `ttlMs`. */
    async issue(value: OAuthState, ttlMs: number): Promise<string> {
      const state = randomBytes(32).toString('base64url');
      await deps.redis.set(key(state), JSON.stringify(value), 'PX', Math.max(1, ttlMs));
      return state;
    },

    /** Reads a state without consuming it (the callback needs the environment before the exchange). */
    async peek(state: string): Promise<OAuthState | undefined> {
      if (!STATE_SHAPE.test(state)) return undefined;
      return parse(await deps.redis.get(key(state)));
    },

    /** Consumes a state atomically (GETDEL): a replay finds nothing. */
    async consume(state: string): Promise<OAuthState | undefined> {
      if (!STATE_SHAPE.test(state)) return undefined;
      return parse(await deps.redis.getdel(key(state)));
    },

    /**
     * Consumes a state only for the browser that started its flow: the state cookie is compared first (in
     * constant time), so a forged or crossed callback cannot burn the customer's state.
     */
    async consumeBound(state: string, cookie: string | undefined): Promise<OAuthState | undefined> {
      if (!statesMatch(cookie, state)) return undefined;
      return store.consume(state);
    },
  };
  return store;
}

export type OAuthStateStore = ReturnType<typeof createOAuthStateStore>;
