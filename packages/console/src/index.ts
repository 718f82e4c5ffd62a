import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Server-side entry of the operator console: where its built browser files live on disk, so the api can
 * serve them at /console. The same path from the sources (src/) and from the build (dist/): dist/web.
 */
export const CONSOLE_WEB_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/web');

/** The URL prefix the console is built for (vite's `base`) and served under. */
export const CONSOLE_BASE_PATH = '/console';
