/** `pnpm sdk:generate`: writes packages/sdk/openapi.json and src/generated/api.ts from the live api. */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { buildOpenApiDocument, DOCUMENT_PATH, renderDocument, renderTypes, TYPES_PATH } from './codegen.js';

const document = await buildOpenApiDocument();
await mkdir(dirname(TYPES_PATH), { recursive: true });
await writeFile(DOCUMENT_PATH, renderDocument(document));
await writeFile(TYPES_PATH, await renderTypes(document));
console.log(`wrote ${DOCUMENT_PATH} and ${TYPES_PATH} (${Object.keys(document.paths ?? {}).length} paths)`);
