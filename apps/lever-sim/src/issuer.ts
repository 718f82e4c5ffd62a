import type { FastifyRequest } from 'fastify';
import type { SimContext } from './context.js';

/** The JWT `iss` (with trailing slash, as Auth0 writes it): SIM_PUBLIC_URL, else the URL the client used. */
export function issuerOf(ctx: Pick<SimContext, 'options'>, request: FastifyRequest): string {
  const base = ctx.options.publicUrl ?? `${request.protocol}://${request.host}`;
  return base.replace(/\/+$/, '') + '/';
}
