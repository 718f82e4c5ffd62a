/** First half of `pnpm sdk:generate`: writes packages/sdk/openapi.json from the app (the SDK's generator reads it). */
import { writeFile } from 'node:fs/promises';
import { buildOpenApiDocument, DOCUMENT_PATH, renderDocument } from './openapi-document.js';

const document = await buildOpenApiDocument();
await writeFile(DOCUMENT_PATH, renderDocument(document));
console.log(`wrote ${DOCUMENT_PATH} (${Object.keys(document.paths ?? {}).length} paths)`);
