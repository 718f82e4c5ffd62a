import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SimClient } from './clients.js';
import type { SimContext } from './context.js';
import { stringParam } from './params.js';

/** client_secret_post (Lever's documented way) or HTTP Basic (RFC 6749 form-encodes both halves). */
export function clientCredentials(request: FastifyRequest, body: unknown): { clientId?: string; clientSecret?: string } {
  const header = request.headers.authorization;
  if (header?.toLowerCase().startsWith('basic ')) {
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) {
      const unescape = (s: string) => {
        try {
          return decodeURIComponent(s.replaceAll('+', ' '));
        } catch {
          return s;
        }
      };
      return { clientId: unescape(decoded.slice(0, colon)), clientSecret: unescape(decoded.slice(colon + 1)) };
    }
  }
  return { clientId: stringParam(body, 'client_id'), clientSecret: stringParam(body, 'client_secret') };
}

/** The registered client whose id and secret the request carries; undefined means 401 (token and revoke endpoints alike). */
export function authenticateClient(ctx: Pick<SimContext, 'clients'>, request: FastifyRequest, body: unknown): SimClient | undefined {
  const { clientId, clientSecret } = clientCredentials(request, body);
  const client = clientId ? ctx.clients.find(clientId) : undefined;
  return client && client.clientSecret === clientSecret ? client : undefined;
}

/** Auth0's wording for a wrong client id or secret, at every auth-server endpoint. */
export const UNAUTHORIZED_CLIENT = { status: 401, error: 'access_denied', description: 'Unauthorized' } as const;

export function oauthError(reply: FastifyReply, status: number, error: string, description: string) {
  return reply.code(status).header('cache-control', 'no-store').send({ error, error_description: description });
}
