import { describe, expect, it } from 'vitest';
import { classifyTokenFailure, type TokenCallOutcome } from '../src/index.js';

const http = (status: number, body: unknown, retryAfter?: string): TokenCallOutcome => ({ type: 'http', status, body, retryAfter });

describe('classifyTokenFailure', () => {
  it.each([
    ['invalid_grant with 403 (Auth0)', http(403, { error: 'invalid_grant', error_description: 'Unknown or invalid refresh token.' }), 'permanent', 'invalid_grant'],
    ['invalid_grant with 400', http(400, { error: 'invalid_grant' }), 'permanent', 'invalid_grant'],
    ['invalid_client', http(401, { error: 'invalid_client' }), 'operator', 'invalid_client'],
    ['unauthorized_client', http(400, { error: 'unauthorized_client' }), 'operator', 'invalid_client'],
    ['401 access_denied (wrong secret)', http(401, { error: 'access_denied', error_description: 'Unauthorized' }), 'operator', 'invalid_client'],
    ['429', http(429, {}, '3'), 'transient', 'rate_limited'],
    ['500', http(500, 'oops'), 'transient', 'server_error'],
    ['503', http(503, undefined), 'transient', 'server_error'],
    ['unknown 4xx without an OAuth error', http(404, '<html>'), 'transient', 'bad_response'],
  ] as const)('%s → %s', (_name, outcome, kind, reason) => {
    const failure = classifyTokenFailure(outcome);
    expect(failure.kind).toBe(kind);
    expect(failure.reason).toBe(reason);
  });

  it('never treats a 403 without invalid_grant as permanent', () => {
    expect(classifyTokenFailure(http(403, { error: 'temporarily_unavailable' })).kind).toBe('transient');
  });

  it('reads Retry-After seconds', () => {
    expect(classifyTokenFailure(http(429, {}, '7')).retryAfterMs).toBe(7000);
  });

  it('marks a timeout after sending as ambiguous (Lever may have rotated)', () => {
    const timeout = Object.assign(new Error('t'), { name: 'TimeoutError' });
    expect(classifyTokenFailure({ type: 'network', error: timeout, requestSent: true })).toMatchObject({
      kind: 'transient',
      reason: 'timeout',
      ambiguous: true,
    });
    expect(classifyTokenFailure({ type: 'network', error: new Error('refused'), requestSent: false })).toMatchObject({
      kind: 'transient',
      reason: 'network_error',
      ambiguous: false,
    });
  });
});
