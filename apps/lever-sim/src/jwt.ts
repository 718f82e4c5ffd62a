import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * HS512 JWTs signed synchronously with node:crypto. jose's SignJWT is async; an await between reading a
 * refresh token and rotating it would let two concurrent refreshes both pass the check, which is exactly
 * the race the simulator must expose. Signing in the same tick keeps the whole refresh atomic (and fast).
 */
const HEADER = Buffer.from(JSON.stringify({ alg: 'HS512', typ: 'JWT' })).toString('base64url');

export type JwtClaims = Record<string, unknown>;

export function signJwt(claims: JwtClaims, secret: Uint8Array): string {
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const signature = createHmac('sha512', secret).update(`${HEADER}.${payload}`).digest('base64url');
  return `${HEADER}.${payload}.${signature}`;
}

/** Returns the claims when the signature is ours, otherwise undefined. Expiry and audience are the caller's. */
export function verifyJwt(token: string, secret: Uint8Array): JwtClaims | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [header, payload, signature] = parts as [string, string, string];
  if (header !== HEADER) return undefined;
  const expected = createHmac('sha512', secret).update(`${header}.${payload}`).digest();
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    return claims && typeof claims === 'object' && !Array.isArray(claims) ? (claims as JwtClaims) : undefined;
  } catch {
    return undefined;
  }
}
