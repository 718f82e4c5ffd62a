import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { buildOpenApiDocument, DOCUMENT_PATH, renderDocument } from '../scripts/openapi-document.js';

describe('the committed OpenAPI document (packages/sdk/openapi.json)', () => {
  it('equals the document the live api serves (run `pnpm sdk:generate` when this fails)', async () => {
    const document = await buildOpenApiDocument();
    expect(await readFile(DOCUMENT_PATH, 'utf8'), 'packages/sdk/openapi.json is stale: run `pnpm sdk:generate`').toBe(renderDocument(document));
  });
});
