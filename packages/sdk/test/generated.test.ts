import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { buildOpenApiDocument, DOCUMENT_PATH, renderDocument, renderTypes, TYPES_PATH } from '../scripts/codegen.js';

describe('the generated SDK types', () => {
  it('match the live OpenAPI document of the api (run `pnpm sdk:generate` when this fails)', async () => {
    const document = await buildOpenApiDocument();
    expect(await readFile(DOCUMENT_PATH, 'utf8'), 'packages/sdk/openapi.json is stale: run `pnpm sdk:generate`').toBe(renderDocument(document));
    expect(await readFile(TYPES_PATH, 'utf8'), 'packages/sdk/src/generated/api.ts is stale: run `pnpm sdk:generate`').toBe(await renderTypes(document));
  });
});
