import { readFile } from 'node:fs/promises';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { CONNECT_BUTTON_SCRIPT } from '@lever-connect/connect-button';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';

/**
 * `<lever-connect-button>` as a browser module, served by the api in every mode (like a payment provider's
 * hosted script): the operator's page loads it from the same origin that runs the connect flow. A static,
 * public file: no data, no key.
 */
export default async function connectButtonRoutes(app: FastifyInstance) {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  // Read once per process: the file only changes with a deploy (or a dev restart).
  let script: Promise<string> | undefined;
  r.get(
    '/connect-button.js',
    {
      schema: {
        tags: ['connect'],
        summary: 'The <lever-connect-button> browser module (and openLeverConnect)',
        response: { 200: Type.String() },
      },
    },
    async (_request, reply) => {
      script ??= readFile(CONNECT_BUTTON_SCRIPT, 'utf8').catch((error: unknown) => {
        script = undefined;
        throw error;
      });
      return reply
        .type('text/javascript; charset=utf-8')
        .header('cache-control', 'public, max-age=300')
        .header('x-content-type-options', 'nosniff')
        // The operator's own pages (another site) load this script: the one answer other sites may embed.
        .header('cross-origin-resource-policy', 'cross-origin')
        .send(await script);
    },
  );
}
