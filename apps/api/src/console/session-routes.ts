import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ConsoleSession } from '@lever-connect/connections';
import { AppError } from '@lever-connect/errors';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { errorResponses, Uuid } from '../schemas.js';
import { clearSessionCookie, CSRF_HEADER, isCrossOrigin, sessionTokenOf, setSessionCookie } from './session.js';

const SessionView = Type.Object(
  {
    csrfToken: Type.String({ description: `Send it as ${CSRF_HEADER} with every change made with this session (POST, PATCH, DELETE)` }),
    principal: Type.Object({
      apiKeyId: Uuid,
      apiKeyPrefix: Type.String({ description: 'First characters of the key signed in with (never the key)' }),
      tenantExternalId: Type.Union([Type.String(), Type.Null()], { description: 'Set for a tenant-scoped key: the console shows that tenant only' }),
      admin: Type.Boolean({ description: 'An unscoped key: every tenant, webhook endpoints, API keys' }),
    }),
    idleTimeoutSeconds: Type.Integer({ description: 'The session ends after this long unused' }),
  },
  { $id: 'ConsoleSession', title: 'ConsoleSession' },
);

/**
 * The console's sign-in: `POST /console/session` exchanges an API key for a session cookie (HttpOnly,
 * SameSite=Strict, Secure in production) and answers the session's CSRF token; `GET` answers the current
 * session (what a reloaded page needs); `DELETE` signs out. Public in the access table: each checks the
 * session itself. The key is never echoed, logged or kept (only the session token's hash is stored).
 */
export default async function consoleSessionRoutes(app: FastifyInstance) {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { config } = app.core;
  app.addSchema(SessionView);
  const view = (session: ConsoleSession) => ({
    csrfToken: session.csrfToken,
    principal: { apiKeyId: session.principal.apiKeyId, apiKeyPrefix: session.principal.prefix, tenantExternalId: session.principal.tenantExternalId, admin: session.principal.tenantId === null },
    idleTimeoutSeconds: config.console.idleTimeoutSeconds,
  });
  const crossOrigin = () => new AppError('csrf_token_invalid', 'Sign in to the console from its own page', 403);

  r.post(
    '/console/session',
    {
      schema: {
        tags: ['console'],
        summary: 'Sign in to the console: an API key for a session cookie (HttpOnly, SameSite=Strict)',
        security: [],
        body: Type.Object({ apiKey: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }),
        response: { 201: Type.Ref('ConsoleSession'), ...errorResponses(400, 401, 403, 415) },
      },
    },
    async (request, reply) => {
      // A form posted from another site could sign a browser into someone else's key: JSON from our own origin only.
      if (isCrossOrigin(request, config)) throw crossOrigin();
      if (!(request.headers['content-type'] ?? '').startsWith('application/json')) {
        throw new AppError('unsupported_media_type', 'Sign in with a JSON body', 415);
      }
      const { token, session } = await app.consoleSessions.signIn(request.body.apiKey);
      setSessionCookie(reply, config, token);
      request.log.info({ apiKey: session.principal.prefix }, 'console sign-in');
      return reply.code(201).header('cache-control', 'no-store').send(view(session));
    },
  );

  r.get(
    '/console/session',
    {
      schema: {
        tags: ['console'],
        summary: "The console session of this browser's cookie, with its CSRF token; 204 when signed out",
        description: 'Signed out is an answer here, not an error: the console asks this on every load.',
        security: [],
        response: { 200: Type.Ref('ConsoleSession'), 204: Type.Null() },
      },
    },
    async (request, reply) => {
      void reply.header('cache-control', 'no-store');
      const token = sessionTokenOf(request, config);
      const session = await app.consoleSessions.resolve(token);
      if (!session) {
        if (token !== undefined) clearSessionCookie(reply, config);
        return reply.code(204).send(null);
      }
      return reply.send(view(session));
    },
  );

  r.delete(
    '/console/session',
    {
      schema: {
        tags: ['console'],
        summary: 'Sign out of the console (needs the CSRF token)',
        security: [],
        response: { 204: Type.Null(), ...errorResponses(403) },
      },
    },
    async (request, reply) => {
      const token = sessionTokenOf(request, config);
      const header = request.headers[CSRF_HEADER];
      // Signing out of a session that is already over is fine; ending a live one needs its CSRF token.
      if (token && (await app.consoleSessions.resolve(token))) {
        if (isCrossOrigin(request, config) || !app.consoleSessions.csrfMatches(token, typeof header === 'string' ? header : undefined)) {
          throw new AppError('csrf_token_invalid', `Signing out needs the session's ${CSRF_HEADER} header`, 403);
        }
        await app.consoleSessions.signOut(token);
      }
      clearSessionCookie(reply, config);
      return reply.code(204).send(null);
    },
  );
}
