import rateLimit from '@fastify/rate-limit';
import { RateLimitedError } from '@lever-connect/errors';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import helmet from 'helmet';

/**
 * Security headers on every answer (helmet) and the rate limit of the public connect routes
 * (@fastify/rate-limit, counted in Redis so every api process shares it; per client address).
 *
 * The default policy is the API's: nothing may load from an answer (`default-src 'none'`) and nothing may
 * frame it (`frame-ancestors 'none'`). Pages set their own stricter-where-it-matters CSP with a nonce (the
 * connect result page, the demo); Swagger UI under /docs gets the policy its own assets need.
 */
export default fp(
  async function securityPlugin(app: FastifyInstance) {
    const { config, redis } = app.core;
    // helmet's middleware, built once. Not @fastify/helmet: it builds a new helmet middleware (parsing every
    // directive again) in two async hooks on every request, a visible share of the proxy's CPU per call.
    const securityHeaders = helmet({
      contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] } },
      // HSTS only means something over https: production's PUBLIC_BASE_URL is https (config refuses otherwise).
      strictTransportSecurity: config.isProduction ? { maxAge: 31_536_000, includeSubDomains: true } : false,
      crossOriginResourcePolicy: { policy: 'same-site' },
      // The connect popup talks to the page that opened it (postMessage, close): a cross-origin-opener policy
      // would cut that link as the popup comes back from Lever's origin (the button then only polls).
      crossOriginOpenerPolicy: false,
    });
    // On the raw response, as @fastify/helmet does: a route's own reply.header() (a page's CSP with its
    // nonce) still wins, because Fastify's writeHead values override headers set this way.
    app.addHook('onRequest', (request, reply, done) => {
      securityHeaders(request.raw, reply.raw, () => done());
    });
    // A callback hook, not an async one: it runs on every answer, and only /docs needs it.
    app.addHook('onSend', (request, reply, payload, done) => {
      if (request.url === '/docs' || request.url.startsWith('/docs/')) {
        void reply.header(
          'content-security-policy',
          "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'",
        );
      }
      done(null, payload);
    });
    await app.register(rateLimit, {
      global: false,
      redis,
      nameSpace: `${config.redisPrefix}:connect-rate:`,
      // A Redis outage must not lock customers out of connecting: the limit is skipped, not enforced.
      skipOnError: true,
      errorResponseBuilder: (_request, context) => {
        const seconds = Math.max(1, Math.ceil(context.ttl / 1000));
        return Object.assign(new RateLimitedError('rate_limited', `Too many requests to the connect pages; try again in ${seconds} s`, seconds), {
          statusCode: 429,
        });
      },
    });
  },
  { name: 'security', dependencies: ['core'] },
);

/** The per-route options of a public connect route: CONNECT_RATE_LIMIT_PER_MINUTE per client address (0: off). */
export const connectRateLimit = (perMinute: number): { rateLimit: { max: number; timeWindow: number } | false } => ({
  rateLimit: perMinute > 0 ? { max: perMinute, timeWindow: 60_000 } : false,
});
