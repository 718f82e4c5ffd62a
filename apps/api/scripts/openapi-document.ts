/**
 * The api's OpenAPI document as a deployment serves it: written to packages/sdk/openapi.json by
 * `pnpm sdk:generate` (write-openapi.ts) and compared with that file by test/openapi-document.test.ts. The SDK
 * is generated from the committed file, so no package imports the api to learn its routes.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { buildApp } from '../src/app.js';
import { createContainer } from '../src/container.js';

/** The committed document, owned by the SDK package that is generated from it. */
export const DOCUMENT_PATH = fileURLToPath(new URL('../../../packages/sdk/openapi.json', import.meta.url));

/**
 * Builds the app with a production-shaped config, so development-only routes (the demo) are left out.
 * Building needs neither Postgres nor Redis (connections are opened lazily, and the queues' failed connects
 * are harmless), so both URLs point nowhere: this touches no shared state and works with neither running.
 */
export async function buildOpenApiDocument(): Promise<Record<string, unknown>> {
  const { core, logger } = createContainer({
    NODE_ENV: 'production',
    LOG_LEVEL: 'silent',
    LEVER_ENV: 'live',
    LEVER_SANDBOX_CLIENT_ID: 'sdk-codegen',
    LEVER_SANDBOX_CLIENT_SECRET: 'sdk-codegen',
    LEVER_PRODUCTION_CLIENT_ID: 'sdk-codegen',
    LEVER_PRODUCTION_CLIENT_SECRET: 'sdk-codegen',
    PUBLIC_BASE_URL: 'https://lever-connect.invalid',
    DATABASE_URL: 'postgresql://sdk-codegen@127.0.0.1:1/unused',
    REDIS_URL: 'redis://127.0.0.1:1',
    TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
  });
  const app = await buildApp({ core, logger });
  try {
    await app.ready();
    // A JSON round trip: the document as clients receive it (no undefined members, no shared references).
    return JSON.parse(JSON.stringify(app.swagger())) as Record<string, unknown>;
  } finally {
    await app.close();
    await core.close();
  }
}

/** The document as committed: stable key order from the app, two-space JSON, trailing newline. */
export function renderDocument(document: Record<string, unknown>): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}
