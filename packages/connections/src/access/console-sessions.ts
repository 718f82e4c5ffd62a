import { createHmac } from 'node:crypto';
import { randomSecret, safeEqual, sha256Hex } from '@lever-connect/crypto';
import type { PrismaClient } from '@lever-connect/db';
import { principalOf, type ApiKeyService, type ApiPrincipal } from './api-keys.js';

/** A console session as a request sees it: the key's principal, read afresh, and the session's CSRF token. */
export interface ConsoleSession {
  id: string;
  principal: ApiPrincipal;
  csrfToken: string;
}

export interface ConsoleSessionPolicy {
  /** A session unused this long is over (ms). */
  idleTimeoutMs: number;
  /** A session this old is over whatever its use (ms). */
  maxAgeMs: number;
}

/** Session tokens: `lcs_` + 256 random bits, base64url. */
const TOKEN = /^lcs_[A-Za-z0-9_-]{43}$/;

/**
 * The CSRF token of a session: an HMAC keyed by the session token itself, so it needs no storage, cannot be
 * computed from what the database holds (the token's hash), and dies with the session.
 */
function csrfTokenOf(token: string): string {
  return createHmac('sha256', token).update('lever-connect console csrf').digest('base64url');
}

/**
 * The operator console's sessions (stored in Postgres, hashed): an API key exchanged at sign-in for an opaque
 * random token that the browser holds in an HttpOnly cookie. Postgres rather than Redis because a session
 * must die with its key: the key row is read with the session in one query on every request (console traffic
 * is people clicking, not the token endpoint's rate), so a revocation in any process signs it out at once and
 * a deleted key cascades; and Redis is for what may be lost or rebuilt.
 */
export function createConsoleSessions(deps: {
  prisma: PrismaClient;
  apiKeys: Pick<ApiKeyService, 'verify'>;
  policy: ConsoleSessionPolicy;
  now?: () => Date;
}) {
  const now = deps.now ?? (() => new Date());
  const { idleTimeoutMs, maxAgeMs } = deps.policy;
  // lastUsedAt is written at most this often: the idle timeout is kept to within it, without a write per click.
  const touchEveryMs = Math.min(60_000, Math.max(1_000, idleTimeoutMs / 10));

  return {
    /** Verifies the key as a Bearer key would be (401 when unknown or revoked) and opens a session for it. */
    async signIn(key: string): Promise<{ token: string; session: ConsoleSession }> {
      const principal = await deps.apiKeys.verify(key);
      const token = randomSecret('lcs');
      const at = now();
      const row = await deps.prisma.consoleSession.create({
        data: { tokenHash: sha256Hex(token), apiKeyId: principal.apiKeyId, createdAt: at, lastUsedAt: at },
        select: { id: true },
      });
      // Sessions long over are swept here, at a sign-in, rather than by a job of their own.
      await deps.prisma.consoleSession.deleteMany({ where: { lastUsedAt: { lt: new Date(at.getTime() - Math.max(idleTimeoutMs, maxAgeMs)) } } });
      return { token, session: { id: row.id, principal, csrfToken: csrfTokenOf(token) } };
    },

    /**
     * The session of a cookie's token with its key's principal, or null when the token is unknown, idle too
     * long, too old, or its key revoked (an ended session is deleted).
     */
    async resolve(token: string | undefined): Promise<ConsoleSession | null> {
      if (!token || !TOKEN.test(token)) return null;
      const row = await deps.prisma.consoleSession.findUnique({
        where: { tokenHash: sha256Hex(token) },
        include: { apiKey: { include: { tenant: { select: { externalId: true } } } } },
      });
      if (!row) return null;
      const at = now().getTime();
      const principal = principalOf(row.apiKey);
      if (!principal || at - row.lastUsedAt.getTime() > idleTimeoutMs || at - row.createdAt.getTime() > maxAgeMs) {
        await deps.prisma.consoleSession.deleteMany({ where: { id: row.id } });
        return null;
      }
      if (at - row.lastUsedAt.getTime() >= touchEveryMs) {
        await deps.prisma.consoleSession.updateMany({ where: { id: row.id }, data: { lastUsedAt: new Date(at) } });
      }
      return { id: row.id, principal, csrfToken: csrfTokenOf(token) };
    },

    /** Whether a request's CSRF header belongs to the session of its cookie (constant time). */
    csrfMatches(token: string, header: string | undefined): boolean {
      return typeof header === 'string' && safeEqual(header, csrfTokenOf(token));
    },

    async signOut(token: string | undefined): Promise<void> {
      if (!token || !TOKEN.test(token)) return;
      await deps.prisma.consoleSession.deleteMany({ where: { tokenHash: sha256Hex(token) } });
    },
  };
}

export type ConsoleSessions = ReturnType<typeof createConsoleSessions>;
