/** Second half of `pnpm sdk:generate`: writes src/generated/api.ts from openapi.json (which the api wrote first). */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { readDocument, renderTypes, TYPES_PATH } from './codegen.js';

const document = await readDocument();
await mkdir(dirname(TYPES_PATH), { recursive: true });
await writeFile(TYPES_PATH, await renderTypes(document));
console.log(`wrote ${TYPES_PATH} (${Object.keys(document.paths ?? {}).length} paths)`);
