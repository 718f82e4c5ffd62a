import { allows, type ApiPrincipal, type Scope } from '@lever-connect/connections';
import { AppError, ForbiddenError } from '@lever-connect/errors';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Logger } from 'pino';
import { consolePrincipal } from '../console/session.js';
import { accessOf, scopeOf } from '../route-access.js';
import { sendError } from './errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: ApiPrincipal | null;
  }
  interface FastifyInstance {
    /** Every route registered after this plugin, as `METHOD /url` (HEAD twins left out): what the access table covers. */
    routeTable: string[];
  }
}

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1] : '';
}

/**
 * API-key authentication, driven by the route access table: every route must be declared there, so a new
 * route cannot ship without a decision about who may call it.
 */
export default fp(
  async function authPlugin(app: FastifyInstance) {
    app.decorateRequest('principal', null);
    const routeTable: string[] = [];
    app.decorate('routeTable', routeTable);
    app.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      for (const method of methods) {
        if (method === 'HEAD' || method === 'OPTIONS') continue;
        routeTable.push(`${method} ${route.url}`);
        const access = accessOf(method, route.url);
        if (!access) throw new Error(`route ${method} ${route.url} is missing from ROUTE_ACCESS (src/route-access.ts)`);
        if (access !== 'public' && !scopeOf(method, route.url)) throw new Error(`route ${method} ${route.url} has no scope in ROUTE_SCOPES (src/route-access.ts)`);
      }
    });
    // The hook answers a refusal itself (sendError) rather than throwing: a thrown error would go to the
    // error handler of the route's own context, and a third-party plugin (bull-board under /admin/queues)
    // installs one that restyles it (its own body, a stack trace in development). Every 401/403 must be
    // the one error shape, whoever owns the route.
    function admit(request: FastifyRequest, reply: FastifyReply, principal: ApiPrincipal, access: string | undefined, scope: Scope | undefined, done: () => void) {
      request.principal = principal;
      // The request's own child logger gains the key's prefix (no second child logger per request).
      // (buildApp's logger is pino, whose loggers have setBindings; Fastify's type does not declare it.)
      (request.log as unknown as Pick<Logger, 'setBindings'>).setBindings({ apiKey: principal.prefix });
      if ((access === 'admin' || scope === 'webhooks:write') && principal.tenantId) {
        void sendError(reply, request, new ForbiddenError('This route needs an unscoped (admin) API key'));
        return;
      }
      if (scope && !allows(principal.scopes, scope)) {
        void sendError(reply, request, new AppError('insufficient_scope', `This API key lacks the scope this route needs: ${scope}`, 403, { scope }));
        return;
      }
      done();
    }
    // A callback hook, not an async one: a key verified moments ago is answered from memory with no promise
    // at all (the token endpoint's hot path); only a cache miss waits on Postgres.
    app.addHook('onRequest', (request, reply, done) => {
      const url = request.routeOptions.url;
      if (!url) return done(); // 404s are answered by the not-found handler
      const access = accessOf(request.method, url);
      if (access === 'public') return done();
      const scope = scopeOf(request.method, url);
      const key = bearer(request);
      // The console (src/console/): without a key, its session cookie stands for its key on /v1 routes.
      const viaConsole = key === undefined ? consolePrincipal(app, request, url) : undefined;
      if (viaConsole) {
        viaConsole.then(
          (principal) => admit(request, reply, principal, access, scope, done),
          (error: unknown) => void sendError(reply, request, error),
        );
        return;
      }
      const cached = app.core.apiKeys.verifyCached(key);
      if (cached) return admit(request, reply, cached, access, scope, done);
      app.core.apiKeys.verify(key).then(
        (principal) => admit(request, reply, principal, access, scope, done),
        (error: unknown) => void sendError(reply, request, error),
      );
    });
  },
  { name: 'auth', dependencies: ['core', 'console-session'] },
);
