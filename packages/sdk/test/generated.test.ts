import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { readDocument, renderTypes, TYPES_PATH } from '../scripts/codegen.js';

// The committed document itself is checked against the live api on the api's side
// (apps/api/test/openapi-document.test.ts).
describe('the generated SDK types', () => {
  it('match the committed OpenAPI document (run `pnpm sdk:generate` when this fails)', async () => {
    expect(await readFile(TYPES_PATH, 'utf8'), 'packages/sdk/src/generated/api.ts is stale: run `pnpm sdk:generate`').toBe(await renderTypes(await readDocument()));
  });
});
