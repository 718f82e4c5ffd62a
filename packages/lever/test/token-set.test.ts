import { describe, expect, it } from 'vitest';
import { InvalidTokenResponseError, parseTokenResponse } from '../src/index.js';

const at = new Date('2026-12-02T00:00:00.000Z');

describe("parsing Lever's token response", () => {
  it('computes the expiry from expires_in and keeps the rotated refresh token and scopes', () => {
    const t = parseTokenResponse({ access_token: 'a', refresh_token: 'r', token_type: 'Bearer', scope: 'offline_access users:read:admin', expires_in: 3600 }, at);
    expect(t).toEqual({ accessToken: 'a', refreshToken: 'r', tokenType: 'Bearer', scopes: ['offline_access', 'users:read:admin'], expiresAt: new Date('2026-12-02T01:00:00.000Z'), expiresInSeconds: 3600 });
  });

  it.each([0, -5])('keeps the refresh token of an answer whose access token is already expired (expires_in %s)', (expiresIn) => {
    const t = parseTokenResponse({ access_token: 'a', refresh_token: 'r', expires_in: expiresIn }, at);
    expect(t.refreshToken).toBe('r');
    expect(t.expiresAt).toEqual(at);
    expect(t.expiresInSeconds).toBe(0);
  });

  it.each([
    ['not an object', 'nope'],
    ['no access token', { refresh_token: 'r', expires_in: 3600 }],
    ['a non-numeric expires_in', { access_token: 'a', expires_in: 'soon' }],
  ])('refuses %s', (_what, body) => {
    expect(() => parseTokenResponse(body, at)).toThrow(InvalidTokenResponseError);
  });
});
