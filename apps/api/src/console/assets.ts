import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { CONSOLE_WEB_DIR } from '@lever-connect/console';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

/**
 * The page's policy: scripts, styles and calls from this origin only, nothing inline, nothing framed, no
 * form posting elsewhere. The console needs no more (its styles are one file, its charts SVG attributes).
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Every file of the build, read once per process (it only changes with a deploy); a failed read is tried again. */
async function readBuild(dir: string): Promise<Map<string, Asset>> {
  const files = new Map<string, Asset>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || entry.name.startsWith('.')) continue;
    const full = path.join(entry.parentPath, entry.name);
    const body = await readFile(full);
    const rel = path.relative(dir, full).split(path.sep).join('/');
    files.set(rel, { body, type: TYPES[path.extname(entry.name)] ?? 'application/octet-stream', etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  }
  if (!files.has('index.html')) throw new Error(`the console is not built (${dir}/index.html is missing): run pnpm build`);
  return files;
}

function send(request: FastifyRequest, reply: FastifyReply, asset: Asset, cacheControl: string) {
  void reply
    .header('etag', asset.etag)
    .header('cache-control', cacheControl)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cross-origin-resource-policy', 'same-origin');
  if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
  return reply.type(asset.type).send(asset.body);
}

/**
 * `/console` and everything under it: hashed files under `/console/assets/` (cached a year, immutable),
 * and the page itself for every other path (the console routes in the browser; revalidated on every load,
 * so a deploy is seen at once). Public: the files hold no data; the data comes from the API with a session.
 */
export default async function consoleAssetRoutes(app: FastifyInstance, opts: { dir?: string } = {}) {
  const dir = opts.dir ?? CONSOLE_WEB_DIR;
  let build: Promise<Map<string, Asset>> | undefined;
  const files = () =>
    (build ??= readBuild(dir).catch((error: unknown) => {
      build = undefined;
      throw error;
    }));

  const page = async (request: FastifyRequest, reply: FastifyReply) => {
    let assets: Map<string, Asset>;
    try {
      assets = await files();
    } catch (error) {
      request.log.error({ err: error }, 'console not available');
      return reply.code(503).type('text/plain; charset=utf-8').header('cache-control', 'no-store').send('The console is not built on this server: run `pnpm build`.\n');
    }
    const rest = (request.params as { '*'?: string })['*'] ?? '';
    if (rest.startsWith('assets/')) {
      const asset = assets.get(rest);
      if (!asset) return reply.code(404).type('text/plain; charset=utf-8').send('Not found\n');
      return send(request, reply, asset, 'public, max-age=31536000, immutable');
    }
    void reply
      .header('content-security-policy', CONSOLE_CSP)
      .header('x-frame-options', 'DENY')
      .header('cross-origin-opener-policy', 'same-origin');
    return send(request, reply, assets.get('index.html')!, 'no-cache');
  };

  const schema = { hide: true } as const;
  app.get('/console', { schema }, page);
  app.get('/console/*', { schema }, page);
}
