import { api } from './api.ts';

let document: Promise<Set<string>> | undefined;

/**
 * Whether this server has a route (`GET /v1/connections/{id}/lever-webhooks`), read once from its OpenAPI
 * document: a feature another version of the api may lack is offered only where it exists, without a 404 to
 * find out. The one place to ask; a page shows "not available" when it answers false.
 */
export async function hasRoute(method: string, path: string): Promise<boolean> {
  document ??= api<{ paths?: Record<string, Record<string, unknown>> }>('GET', '/openapi.json').then(
    (doc) => new Set(Object.entries(doc.paths ?? {}).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`))),
    () => new Set<string>(),
  );
  return (await document).has(`${method.toUpperCase()} ${path}`);
}
