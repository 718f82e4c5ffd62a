import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createTokenCipher, DecryptionError } from '../src/index.js';

describe('token cipher', () => {
  const currentKey = randomBytes(32);

  it('round-trips a token bound to its row', () => {
    const cipher = createTokenCipher({ currentKey });
    const ct = cipher.encrypt('refresh-token-value', 'conn-1');
    expect(ct).not.toContain('refresh-token-value');
    expect(cipher.decrypt(ct, 'conn-1')).toBe('refresh-token-value');
  });

  it('refuses a ciphertext copied to another row', () => {
    const cipher = createTokenCipher({ currentKey });
    const ct = cipher.encrypt('secret', 'conn-1');
    expect(() => cipher.decrypt(ct, 'conn-2')).toThrow(DecryptionError);
  });

  it('refuses a tampered ciphertext', () => {
    const cipher = createTokenCipher({ currentKey });
    const parts = cipher.encrypt('secret', 'conn-1').split('.');
    parts[4] = Buffer.from('other').toString('base64url');
    expect(() => cipher.decrypt(parts.join('.'), 'conn-1')).toThrow(/failed authentication/);
  });

  it('decrypts with a previous key after rotation and flags the ciphertext stale', () => {
    const oldCipher = createTokenCipher({ currentKey });
    const ct = oldCipher.encrypt('secret', 'conn-1');
    const rotated = createTokenCipher({ currentKey: randomBytes(32), previousKeys: [currentKey] });
    expect(rotated.decrypt(ct, 'conn-1')).toBe('secret');
    expect(rotated.isStale(ct)).toBe(true);
    expect(rotated.isStale(rotated.encrypt('x', 'conn-1'))).toBe(false);
  });

  it('names a missing key without leaking material', () => {
    const ct = createTokenCipher({ currentKey }).encrypt('secret', 'c');
    const other = createTokenCipher({ currentKey: randomBytes(32) });
    expect(() => other.decrypt(ct, 'c')).toThrow(/no key with id/);
  });

  it('uses a fresh IV for each encryption', () => {
    const cipher = createTokenCipher({ currentKey });
    expect(cipher.encrypt('same', 'c')).not.toBe(cipher.encrypt('same', 'c'));
  });
});
