import type { Readable } from 'node:stream';
import { Agent, errors as undiciErrors, request } from 'undici';

export interface LeverApiRequest {
  /** The environment's API base, e.g. https://api.lever.co/v1. */
  baseUrl: string;
  method: string;
  /** The path under the base, with its leading slash, and the query string (with its `?`) if any. */
  pathAndQuery: string;
  headers: Record<string, string>;
  body?: Readable | Buffer | undefined;
  /** Until the response headers come, and between two body chunks. */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

export type LeverApiResponse =
  | { kind: 'response'; status: number; headers: Record<string, string | string[] | undefined>; body: Readable }
  /**
   * No answer. `sent`: whether the request may have reached Lever (a connect failure did not; a timeout or a
   * reset after writing may have).
   */
  | { kind: 'no_response'; reason: 'timeout' | 'connection'; sent: boolean; message: string };

/** Errors raised before any byte was written (the request certainly did not reach Lever). */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

/** One keep-alive pool per process for Lever's API (the token endpoint has its own, token-client.ts). */
const agent = new Agent({ keepAliveTimeout: 30_000, connections: 512, connectTimeout: 5_000 });

/**
 * One call to Lever's API, streamed both ways: the body goes out as given, the answer comes back as a
 * stream. It never throws for what Lever or the network did (a response, or why there was none); only the
 * caller's own abort rejects.
 */
export async function sendToLeverApi(req: LeverApiRequest): Promise<LeverApiResponse> {
  try {
    const response = await request(req.baseUrl + req.pathAndQuery, {
      method: req.method as 'GET',
      headers: req.headers,
      body: req.body ?? null,
      dispatcher: agent,
      headersTimeout: req.timeoutMs,
      bodyTimeout: req.timeoutMs,
      signal: req.signal,
    });
    return { kind: 'response', status: response.statusCode, headers: response.headers, body: response.body };
  } catch (error) {
    if (req.signal?.aborted) throw error;
    const e = error as { code?: string; cause?: { code?: string }; message?: string };
    const code = e.code ?? e.cause?.code;
    const timeout = error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError || code === 'UND_ERR_CONNECT_TIMEOUT';
    return { kind: 'no_response', reason: timeout ? 'timeout' : 'connection', sent: !(code && NOT_SENT_CODES.has(code)), message: e.message ?? String(error) };
  }
}
