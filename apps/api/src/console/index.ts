import type { FastifyInstance } from 'fastify';
import consoleAssetRoutes from './assets.js';
import consoleSessionRoutes from './session-routes.js';

/**
 * The operator console (`/console`): the browser app of packages/console and its sign-in. Everything it
 * shows comes from the REST API under /v1, called with the session cookie (plugins/auth.ts admits it there
 * through `consolePrincipal`), so it never sees more than the key it was signed in with.
 */
export default async function consoleRoutes(app: FastifyInstance) {
  await app.register(consoleSessionRoutes);
  await app.register(consoleAssetRoutes);
}
