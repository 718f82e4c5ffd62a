import { sessionEnded, sessionState } from './session.ts';

/** An answer of the API in its one error shape: `{error: {code, message, details?}, requestId}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId?: string,
  ) {
    super(message);
  }
}

/** Codes that mean the console session is over: sign in again. */
const SESSION_OVER = new Set(['console_session_invalid', 'missing_api_key', 'invalid_api_key']);

/**
 * Calls the REST API (or the console's session routes) with the session cookie; a mutation carries the
 * session's CSRF token in `x-csrf-token`. The console holds no key: the cookie is HttpOnly, the server
 * re-reads the key behind it on every call, so the console can never see more than the key could.
 */
export async function api<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const csrf = sessionState().session?.csrfToken;
  if (method !== 'GET' && csrf) headers['x-csrf-token'] = csrf;
  const res = await fetch(path, { method, headers, credentials: 'same-origin', ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  const json = text ? (JSON.parse(text) as unknown) : undefined;
  if (res.ok) return json as T;
  const error = (json as { error?: { code?: string; message?: string }; requestId?: string } | undefined) ?? {};
  const code = error.error?.code ?? `http_${res.status}`;
  if (res.status === 401 && SESSION_OVER.has(code) && !path.startsWith('/console/session')) sessionEnded();
  throw new ApiError(res.status, code, error.error?.message ?? res.statusText, error.requestId);
}

/** A query string from the set values of `params`. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const entries = Object.entries(params).filter((e): e is [string, string | number] => e[1] !== undefined && e[1] !== null && e[1] !== '');
  return entries.length ? `?${new URLSearchParams(entries.map(([k, v]) => [k, String(v)]))}` : '';
}

/** What to tell a person about a failed call. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.code === 'insufficient_scope' || error.code === 'forbidden') return `This key is not allowed to do that (${error.message}).`;
    return `${error.message} (${error.code}${error.requestId ? `, request ${error.requestId}` : ''})`;
  }
  return error instanceof Error ? error.message : String(error);
}
