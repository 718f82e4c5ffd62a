import { loadConfig } from '@lever-connect/config';
import { describe, expect, it } from 'vitest';
import { budgetClassesFor, checkProxyPath, decide, headersFromLever, headersToLever, retryAfterMs, type AttemptOutcome } from '../src/index.js';

const response = (status: number, retryAfter?: string): AttemptOutcome => ({ kind: 'response', status, retryAfter });
const noResponse = (reason: 'timeout' | 'connection', sent: boolean): AttemptOutcome => ({ kind: 'no_response', reason, sent });

describe('the proxy decides what to do with each attempt (decide)', () => {
  const half = () => 0.5;
  it.each([
    ['200 is answered', 'GET', response(200), 1, false, { kind: 'answer' }],
    ['404 is Lever\'s answer too', 'GET', response(404), 1, false, { kind: 'answer' }],
    ['400 on a POST is answered', 'POST', response(400), 1, false, { kind: 'answer' }],
    ['429 with Retry-After pauses that long, any method', 'POST', response(429, '3'), 1, false, { kind: 'rate_limited', pauseMs: 3000 }],
    ['429 without Retry-After backs off with jitter', 'PATCH', response(429), 3, false, { kind: 'rate_limited', pauseMs: 500 }],
    ['503 on GET is retried', 'GET', response(503), 1, false, { kind: 'retry', delayMs: 125 }],
    ['500 on PUT is retried', 'PUT', response(500), 2, false, { kind: 'retry', delayMs: 250 }],
    ['503 on DELETE is retried', 'DELETE', response(503), 1, false, { kind: 'retry', delayMs: 125 }],
    ['503 on POST is never repeated', 'POST', response(503), 1, false, { kind: 'give_up', code: 'lever_unavailable' }],
    ['a timeout on PATCH is never repeated', 'PATCH', noResponse('timeout', true), 1, false, { kind: 'give_up', code: 'lever_unavailable' }],
    ['a POST that never reached Lever is retried', 'POST', noResponse('connection', false), 1, false, { kind: 'retry', delayMs: 125 }],
    ['a timeout on GET is retried', 'GET', noResponse('timeout', true), 1, false, { kind: 'retry', delayMs: 125 }],
    ['the last attempt gives up', 'GET', response(503), 4, false, { kind: 'give_up', code: 'lever_unavailable' }],
    ['401 asks for one refresh', 'GET', response(401), 1, false, { kind: 'refresh' }],
    ['401 after the refresh gives up', 'GET', response(401), 2, true, { kind: 'give_up', code: 'lever_unauthorized' }],
    ['403 is Lever\'s refusal', 'POST', response(403), 1, false, { kind: 'give_up', code: 'lever_forbidden' }],
  ] as const)('%s', (_name, method, outcome, attempt, refreshed, verdict) => {
    expect(decide({ method, outcome, attempt, maxAttempts: 4, refreshed, random: half })).toEqual(verdict);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(retryAfterMs('2')).toBe(2000);
    expect(retryAfterMs(new Date(10_000 + 4_000).toUTCString(), 10_000)).toBeGreaterThanOrEqual(3000);
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs(undefined)).toBeUndefined();
  });
});

describe('the proxy keeps every call under the Lever API base (checkProxyPath)', () => {
  it.each([
    ['opportunities', '/opportunities'],
    ['opportunities/5b1f-ab/stage', '/opportunities/5b1f-ab/stage'],
    ['postings/abc/apply', '/postings/abc/apply'],
    ['users/a%40b', '/users/a%40b'],
  ])('accepts %s', (raw, path) => {
    expect(checkProxyPath(raw)).toBe(path);
  });

  it.each([
    ['', 'empty'],
    ['https://evil.example/x', 'absolute URL'],
    ['//evil.example/x', 'scheme-relative'],
    ['/etc/passwd', 'absolute path'],
    ['../oauth/token', 'dot-dot'],
    ['opportunities/../../oauth', 'dot-dot inside'],
    ['opportunities/./x', 'dot'],
    ['%2e%2e/oauth/token', 'encoded dot-dot'],
    ['.%2E/oauth', 'half-encoded dot-dot'],
    ['opportunities%2f..%2foauth', 'encoded slash'],
    ['opportunities%5C..', 'encoded backslash'],
    ['opportunities\\..\\oauth', 'backslash'],
    ['opportunities%00', 'encoded NUL'],
    ['opportu\nnities', 'control character'],
    ['opportunities//x', 'empty segment'],
    ['opportunities/ x', 'space'],
    ['http:opportunities', 'scheme'],
  ])('refuses %j (%s) with proxy_path_invalid', (raw) => {
    expect(() => checkProxyPath(raw)).toThrow(expect.objectContaining({ code: 'proxy_path_invalid', statusCode: 400 }));
  });
});

describe('headers are an allow-list both ways', () => {
  it('never forwards our API key, cookies, forwarding or host headers', () => {
    expect(
      headersToLever({
        authorization: 'Bearer lc_secret',
        cookie: 'a=b',
        host: 'api.internal',
        'x-forwarded-for': '10.0.0.1',
        forwarded: 'for=10.0.0.1',
        'x-real-ip': '10.0.0.1',
        'content-type': 'application/json',
        'content-length': '12',
        accept: 'application/json',
      }),
    ).toEqual({ 'content-type': 'application/json', 'content-length': '12', accept: 'application/json' });
  });

  it("never returns Lever's cookies, and keeps what a caller needs", () => {
    expect(headersFromLever({ 'set-cookie': ['s=1'], 'content-type': 'application/json', 'retry-after': '2', server: 'nginx', 'content-length': '5' })).toEqual({
      'content-type': 'application/json',
      'retry-after': '2',
      'content-length': '5',
    });
  });
});

describe('budget classes (LEVER_APPLICATION_ROUTES)', () => {
  const config = loadConfig({ LEVER_ENV: 'simulator', TOKEN_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64') }).proxy;
  it.each([
    ['POST', '/postings/p1/apply', ['api', 'applications']],
    ['POST', '/opportunities/o1/applications', ['api', 'applications']],
    ['GET', '/opportunities/o1/applications', ['api']],
    ['POST', '/opportunities/o1/notes', ['api']],
    ['POST', '/postings/p1/apply/extra', ['api']],
  ])('%s %s draws from %j', (method, path, names) => {
    expect(budgetClassesFor(config, method, path).map((c) => c.name)).toEqual(names);
  });

  it('takes its routes and rates from the config', () => {
    const custom = loadConfig({
      LEVER_ENV: 'simulator',
      TOKEN_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'),
      LEVER_APPLICATION_ROUTES: 'POST /candidates/*/apply',
      LEVER_APPLICATION_RATE_PER_SECOND: '1',
    }).proxy;
    expect(budgetClassesFor(custom, 'POST', '/candidates/c/apply')).toEqual([
      { name: 'api', ratePerSecond: 10, burst: 20 },
      { name: 'applications', ratePerSecond: 1, burst: 1 },
    ]);
    expect(() => loadConfig({ LEVER_ENV: 'simulator', TOKEN_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'), LEVER_APPLICATION_ROUTES: 'apply everything' })).toThrow(/LEVER_APPLICATION_ROUTES/);
  });
});
