import { errorFromResponse, LeverConnectError } from './errors.js';

/**
 * Lever answered the call with a status that is not 2xx (a 404 for an unknown opportunity, a 400 for a bad
 * body...): Lever's own answer, passed through the proxy as it is. `body` is Lever's JSON (or text).
 */
export class LeverApiError extends LeverConnectError {
  readonly body: unknown;
  constructor(status: number, body: unknown, requestId: string | undefined) {
    const leverMessage = typeof body === 'object' && body !== null && typeof (body as { message?: unknown }).message === 'string' ? (body as { message: string }).message : undefined;
    super({ status, code: 'lever_error', message: `Lever answered ${status}${leverMessage ? `: ${leverMessage}` : ''}`, ...(requestId ? { requestId } : {}) });
    this.body = body;
  }
}

export interface LeverCallOptions {
  /** Query parameters (appended as given; Lever repeats keys for lists, e.g. `{ expand: ['owner', 'stage'] }`). */
  query?: Record<string, string | number | boolean | ReadonlyArray<string | number> | undefined>;
  /** Sent as JSON unless it is a `FormData`, `Blob`, `ArrayBuffer` or string (multipart uploads: a `FormData`). */
  body?: unknown;
  headers?: Record<string, string>;
  /** The most this call may wait for its turn in the Lever account's budget, ms (0 = fail fast with 429). */
  maxWaitMs?: number;
}

/** A Lever list page (LEVER.md): `next` is the opaque offset of the following page while `hasNext`. */
export interface LeverPage<T> {
  data: T[];
  hasNext?: boolean;
  next?: string;
}

export interface LeverClient {
  request<T = unknown>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, options?: LeverCallOptions): Promise<T>;
  get<T = unknown>(path: string, options?: Omit<LeverCallOptions, 'body'>): Promise<T>;
  post<T = unknown>(path: string, body?: unknown, options?: Omit<LeverCallOptions, 'body'>): Promise<T>;
  put<T = unknown>(path: string, body?: unknown, options?: Omit<LeverCallOptions, 'body'>): Promise<T>;
  patch<T = unknown>(path: string, body?: unknown, options?: Omit<LeverCallOptions, 'body'>): Promise<T>;
  delete<T = unknown>(path: string, options?: Omit<LeverCallOptions, 'body'>): Promise<T>;
  /** Every item of a Lever list, page after page, following `next` while `hasNext`. */
  paginate<T = unknown>(path: string, query?: LeverCallOptions['query'], options?: Omit<LeverCallOptions, 'body' | 'query'>): AsyncGenerator<T, void, undefined>;
  /** The raw response (downloads, or to read our headers: x-lever-connect-wait-ms, x-lever-connect-attempts). */
  fetch(method: string, path: string, options?: LeverCallOptions): Promise<Response>;
}

function queryString(query: LeverCallOptions['query']): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) params.append(key, String(one));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

function encodeBody(body: unknown): { body?: RequestInit['body']; contentType?: string } {
  if (body === undefined) return {};
  if (typeof body === 'string' || body instanceof ArrayBuffer || body instanceof Blob || body instanceof FormData || body instanceof URLSearchParams) {
    return { body };
  }
  return { body: JSON.stringify(body), contentType: 'application/json' };
}

async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * Lever's API for one connection, through lever-connect's proxy: one rate budget per Lever account shared
 * with every other caller, 429s, 5xx, an access token that died early and retries absorbed by the api.
 * Not retried here (the proxy already did, within the call's wait budget).
 */
export function createLeverClient(deps: { baseUrl: string; apiKey: string; fetch: (request: Request) => Promise<Response>; connectionId: string }): LeverClient {
  const prefix = `${deps.baseUrl}/v1/connections/${encodeURIComponent(deps.connectionId)}/lever`;

  async function fetchRaw(method: string, path: string, options: LeverCallOptions = {}): Promise<Response> {
    const { body, contentType } = encodeBody(options.body);
    const headers: Record<string, string> = { authorization: `Bearer ${deps.apiKey}`, accept: 'application/json', ...options.headers };
    if (contentType) headers['content-type'] = contentType;
    if (options.maxWaitMs !== undefined) headers['x-lever-connect-max-wait-ms'] = String(Math.max(0, Math.floor(options.maxWaitMs)));
    return deps.fetch(new Request(`${prefix}/${path.replace(/^\/+/, '')}${queryString(options.query)}`, { method, headers, ...(body !== undefined ? { body } : {}) }));
  }

  async function request<T>(method: string, path: string, options: LeverCallOptions = {}): Promise<T> {
    const response = await fetchRaw(method, path, options);
    const body = await readBody(response);
    if (response.ok) return body as T;
    // Lever answered (our attempts header is on every answer that came from Lever): Lever's error, as is.
    if (response.headers.has('x-lever-connect-attempts')) throw new LeverApiError(response.status, body, response.headers.get('x-request-id') ?? undefined);
    throw errorFromResponse(response, body);
  }

  const client: LeverClient = {
    request: (method, path, options) => request(method, path, options),
    get: (path, options) => request('GET', path, options),
    post: (path, body, options) => request('POST', path, { ...options, body }),
    put: (path, body, options) => request('PUT', path, { ...options, body }),
    patch: (path, body, options) => request('PATCH', path, { ...options, body }),
    delete: (path, options) => request('DELETE', path, options),
    async *paginate<T>(path: string, query: LeverCallOptions['query'] = {}, options: Omit<LeverCallOptions, 'body' | 'query'> = {}) {
      let offset: string | undefined;
      for (;;) {
        const page = await request<LeverPage<T>>('GET', path, { ...options, query: { ...query, ...(offset ? { offset } : {}) } });
        yield* page.data;
        if (!page.hasNext || !page.next) return;
        offset = page.next;
      }
    },
    fetch: fetchRaw,
  };
  return client;
}
