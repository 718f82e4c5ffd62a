import type { Core } from '@lever-connect/connections';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    core: Core;
  }
}

/** Decorates the app with the domain services built once in the container. */
export default fp(
  async function corePlugin(app: FastifyInstance, opts: { core: Core }) {
    app.decorate('core', opts.core);
  },
  { name: 'core' },
);
