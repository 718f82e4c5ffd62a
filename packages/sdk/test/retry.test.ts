import { describe, expect, it } from 'vitest';
import { createRetryingFetch, retryDelayMs } from '../src/retry.js';
import {
  ConflictError,
  LeverConnectError,
  NeedsReauthError,
  NetworkError,
  NotFoundError,
  RateLimitedError,
  UnauthorizedError,
  UnavailableError,
  ValidationError,
} from '../src/index.js';
import { errorFromResponse, parseRetryAfter } from '../src/errors.js';

const policy = { retries: 3, baseDelayMs: 1, maxDelayMs: 1_000, timeoutMs: 1_000 };
const always = () => true;
const never = () => false;

/** A fetch answering from a script of statuses (or thrown errors), recording what it was sent. */
function scripted(...answers: Array<number | Error | Response>) {
  const seen: Request[] = [];
  const fetch = async (request: Request) => {
    seen.push(request);
    const next = answers.shift();
    if (next === undefined) throw new Error('unexpected extra attempt');
    if (next instanceof Error) throw next;
    return next instanceof Response ? next : new Response(null, { status: next });
  };
  return { fetch, seen };
}

describe('retryDelayMs', () => {
  it.each([
    // attempt, retryAfter, random, expected
    [0, undefined, 1, 1],
    [3, undefined, 1, 8],
    [20, undefined, 1, 1_000], // capped
    [2, undefined, 0, 0], // full jitter reaches zero
    [0, 0.5, 0, 500], // never sooner than Retry-After
    [0, 0.5, 1, 501],
    [0, 2, 0, undefined], // Retry-After beyond the cap: give up rather than block
  ])('attempt %i with Retry-After %s and random %s waits %s ms', (attempt, retryAfter, random, expected) => {
    expect(retryDelayMs(attempt, retryAfter, policy, () => random)).toBe(expected);
  });
});

describe('parseRetryAfter', () => {
  it.each([
    ['3', 3],
    [' 10 ', 10],
    ['soon', undefined],
    [null, undefined],
    [new Date(1_000_000 + 5_000).toUTCString(), 5],
  ])('%s is %s seconds', (header, seconds) => {
    expect(parseRetryAfter(header, 1_000_000)).toBe(seconds);
  });
});

describe('createRetryingFetch', () => {
  const request = (method = 'GET') => new Request('http://127.0.0.1:1/v1/connections', { method });

  it('retries 5xx and 429 until a success, within the retry budget', async () => {
    const { fetch, seen } = scripted(503, 429, 502, 200);
    const response = await createRetryingFetch(fetch, policy, always)(request());
    expect(response.status).toBe(200);
    expect(seen).toHaveLength(4);
  });

  it('returns the last failure once the retries are spent', async () => {
    const { fetch, seen } = scripted(500, 500, 500, 500);
    expect((await createRetryingFetch(fetch, policy, always)(request())).status).toBe(500);
    expect(seen).toHaveLength(4);
  });

  it('sends a non-idempotent request exactly once', async () => {
    const { fetch, seen } = scripted(503);
    expect((await createRetryingFetch(fetch, policy, never)(request('POST'))).status).toBe(503);
    expect(seen).toHaveLength(1);
  });

  it('does not retry client errors or 501', async () => {
    for (const status of [400, 404, 409, 501]) {
      const { fetch, seen } = scripted(status);
      expect((await createRetryingFetch(fetch, policy, always)(request())).status).toBe(status);
      expect(seen).toHaveLength(1);
    }
  });

  it('retries network errors and turns the last one into a NetworkError', async () => {
    const refused = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    const recovered = scripted(refused, 200);
    expect((await createRetryingFetch(recovered.fetch, policy, always)(request())).status).toBe(200);

    const down = scripted(refused, refused, refused, refused);
    const error = await createRetryingFetch(down.fetch, policy, always)(request()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect(error).toMatchObject({ status: 0, code: 'network_error', message: 'GET /v1/connections: ECONNREFUSED' });
  });

  it('does not wait when Retry-After asks for longer than the longest delay', async () => {
    const { fetch, seen } = scripted(new Response(null, { status: 503, headers: { 'retry-after': '3600' } }));
    expect((await createRetryingFetch(fetch, policy, always)(request())).status).toBe(503);
    expect(seen).toHaveLength(1);
  });

  it('sends the same body on every attempt', async () => {
    const bodies: string[] = [];
    const statuses = [503, 200];
    const fetch = async (r: Request) => {
      bodies.push(await r.text());
      return new Response(null, { status: statuses.shift()! });
    };
    const post = new Request('http://127.0.0.1:1/x', { method: 'POST', body: '{"a":1}' });
    expect((await createRetryingFetch(fetch, policy, always)(post)).status).toBe(200);
    expect(bodies).toEqual(['{"a":1}', '{"a":1}']);
  });
});

describe('errorFromResponse', () => {
  const answer = (status: number, code: string, details?: object, headers: Record<string, string> = {}) =>
    errorFromResponse(new Response(null, { status, headers }), { error: { code, message: 'm', details }, requestId: 'req-1' });

  it.each([
    [400, 'validation_failed', ValidationError],
    [401, 'invalid_api_key', UnauthorizedError],
    [404, 'not_found', NotFoundError],
    [409, 'connection_disconnected', ConflictError],
    [409, 'needs_reauth', NeedsReauthError],
    [429, 'rate_limited', RateLimitedError],
    [503, 'refresh_in_progress', UnavailableError],
    [500, 'internal_error', LeverConnectError],
  ])('maps %i %s to %o', (status, code, type) => {
    const error = answer(status, code);
    expect(error).toBeInstanceOf(type);
    expect(error).toMatchObject({ status, code, message: 'm', requestId: 'req-1' });
  });

  it('carries the reason of needs_reauth, the field of a validation error and Retry-After', () => {
    expect((answer(409, 'needs_reauth', { reason: 'invalid_grant' }) as NeedsReauthError).reason).toBe('invalid_grant');
    expect((answer(400, 'validation_failed', { field: 'params.id' }) as ValidationError).field).toBe('params.id');
    expect((answer(503, 'x', undefined, { 'retry-after': '7' }) as UnavailableError).retryAfterSeconds).toBe(7);
  });

  it('still types an answer that is not the error shape (a proxy page)', () => {
    const error = errorFromResponse(new Response(null, { status: 502, statusText: 'Bad Gateway', headers: { 'x-request-id': 'r2' } }), '<html>');
    expect(error).toMatchObject({ status: 502, code: 'http_502', message: 'HTTP 502 Bad Gateway', requestId: 'r2' });
  });
});
