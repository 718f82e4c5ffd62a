import { createConsoleSessions, type ApiPrincipal, type ConsoleSession, type ConsoleSessions } from '@lever-connect/connections';
import type { Config } from '@lever-connect/config';
import { AppError, UnauthorizedError } from '@lever-connect/errors';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    consoleSessions: ConsoleSessions;
  }
}

/** The header a console mutation carries its session's CSRF token in. */
export const CSRF_HEADER = 'x-csrf-token';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** `__Host-` in production: the browser then refuses the cookie unless Secure, Path=/ and without a Domain. */
export const consoleCookieName = (config: Pick<Config, 'secureCookies'>) => (config.secureCookies ? '__Host-lc_console' : 'lc_console');

export function setSessionCookie(reply: FastifyReply, config: Pick<Config, 'secureCookies'>, token: string) {
  // No Max-Age: a browser-session cookie; the server ends the session itself (idle timeout, maximum age).
  void reply.setCookie(consoleCookieName(config), token, { httpOnly: true, sameSite: 'strict', secure: config.secureCookies, path: '/' });
}

export function clearSessionCookie(reply: FastifyReply, config: Pick<Config, 'secureCookies'>) {
  void reply.clearCookie(consoleCookieName(config), { httpOnly: true, sameSite: 'strict', secure: config.secureCookies, path: '/' });
}

export const sessionTokenOf = (request: FastifyRequest, config: Pick<Config, 'secureCookies'>): string | undefined => request.cookies[consoleCookieName(config)];

export const sessionEnded = () => new UnauthorizedError('console_session_invalid', 'The console session is over (signed out, idle too long, or its API key was revoked): sign in again');

/**
 * A request from another origin than the console's (the browser's Sec-Fetch-Site, or an Origin that is
 * neither PUBLIC_BASE_URL's nor the Host the request was sent to), on top of SameSite=Strict and the CSRF
 * token: a console request is always same-origin. (PUBLIC_BASE_URL for a proxy in front that rewrites Host.)
 */
export function isCrossOrigin(request: FastifyRequest, config: Pick<Config, 'publicBaseUrl'>): boolean {
  const site = request.headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') return true;
  const origin = request.headers.origin;
  if (typeof origin !== 'string') return false;
  if (origin === new URL(config.publicBaseUrl).origin) return false;
  try {
    const host = request.headers.host;
    return !host || new URL(origin).origin !== new URL(`${new URL(origin).protocol}//${host}`).origin;
  } catch {
    return true;
  }
}

/**
 * The console session of a request, for the auth plugin: a request to a `/v1` route without an API key but
 * with the console's cookie is the session's key's principal (re-read now: a revoked key is refused at once).
 * A mutation must also carry the session's CSRF token and come from the same origin. Returns undefined when
 * the request has no such cookie or is not for `/v1` (then the key rules apply as they are).
 */
export function consolePrincipal(app: FastifyInstance, request: FastifyRequest, url: string): Promise<ApiPrincipal> | undefined {
  if (!url.startsWith('/v1/')) return undefined;
  const token = sessionTokenOf(request, app.core.config);
  if (token === undefined) return undefined;
  return (async () => {
    const session: ConsoleSession | null = await app.consoleSessions.resolve(token);
    if (!session) throw sessionEnded();
    if (!SAFE_METHODS.has(request.method)) {
      const header = request.headers[CSRF_HEADER];
      if (isCrossOrigin(request, app.core.config) || !app.consoleSessions.csrfMatches(token, typeof header === 'string' ? header : undefined)) {
        throw new AppError('csrf_token_invalid', `A console change needs the session's ${CSRF_HEADER} header, from the console's own origin`, 403);
      }
    }
    return session.principal;
  })();
}

/** The console's session service (packages/connections/src/access/console-sessions.ts), on the app. */
export default fp(
  async function consoleSessionPlugin(app: FastifyInstance) {
    const { prisma, apiKeys, config } = app.core;
    app.decorate(
      'consoleSessions',
      createConsoleSessions({
        prisma,
        apiKeys,
        policy: { idleTimeoutMs: config.console.idleTimeoutSeconds * 1000, maxAgeMs: config.console.maxAgeSeconds * 1000 },
      }),
    );
  },
  { name: 'console-session', dependencies: ['core'] },
);
