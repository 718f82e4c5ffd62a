import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createTokenCipher, DecryptionError, keyId } from '../src/index.js';

/** A genuine GCM ciphertext in the stored format, with an IV of any length (what a forger can write into a row). */
function sealWithIv(key: Buffer, ivBytes: number, plaintext: string, associatedData: string): string {
  const iv = randomBytes(ivBytes);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(associatedData));
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', keyId(key), iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), data.toString('base64url')].join('.');
}

/** The ciphertext with one of its dot-separated parts rewritten. */
function withPart(ciphertext: string, index: number, rewrite: (part: string) => string): string {
  const parts = ciphertext.split('.');
  parts[index] = rewrite(parts[index]!);
  return parts.join('.');
}
const bytesOf = (part: string) => Buffer.from(part, 'base64url');

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

  describe('refuses a ciphertext whose parts are not exactly as written, before using any key', () => {
    const cipher = createTokenCipher({ currentKey });
    const sealed = cipher.encrypt('refresh-token-value', 'conn-1');
    // Node checks only as many tag bytes as it is given (4 to 16): a truncated tag still "authenticates".
    const cases: Array<[string, string, RegExp]> = [
      ['a tag truncated to 4 bytes', withPart(sealed, 3, (t) => bytesOf(t).subarray(0, 4).toString('base64url')), /tag is 4 bytes; 16 required/],
      ['a tag truncated to 8 bytes', withPart(sealed, 3, (t) => bytesOf(t).subarray(0, 8).toString('base64url')), /tag is 8 bytes; 16 required/],
      ['a tag truncated to 12 bytes', withPart(sealed, 3, (t) => bytesOf(t).subarray(0, 12).toString('base64url')), /tag is 12 bytes; 16 required/],
      ['a 17-byte tag', withPart(sealed, 3, (t) => Buffer.concat([bytesOf(t), Buffer.of(0)]).toString('base64url')), /tag is 17 bytes/],
      ['a genuine ciphertext under a 13-byte IV', sealWithIv(currentKey, 13, 'refresh-token-value', 'conn-1'), /IV is 13 bytes; 12 required/],
      ['a genuine ciphertext under an 11-byte IV', sealWithIv(currentKey, 11, 'refresh-token-value', 'conn-1'), /IV is 11 bytes; 12 required/],
      ['a character outside base64url in the data', withPart(sealed, 4, (d) => `${d.slice(0, 2)}!${d.slice(2)}`), /data is not canonical/],
      ['padding on the tag', withPart(sealed, 3, (t) => `${t}==`), /tag is not canonical/],
      ['a key id that is not 16 hex digits', withPart(sealed, 1, () => 'ABCDEF0123456789'), /key id/],
      ['a sixth part', `${sealed}.AAAA`, /unrecognised ciphertext format/],
    ];
    it.each(cases)('%s', (_name, ciphertext, message) => {
      const refusal = (() => {
        try {
          return cipher.decrypt(ciphertext, 'conn-1');
        } catch (error) {
          return error;
        }
      })();
      expect(refusal).toBeInstanceOf(DecryptionError);
      expect((refusal as DecryptionError).reason).toBe('malformed');
      expect((refusal as DecryptionError).message).toMatch(message);
      expect((refusal as DecryptionError).message).not.toContain('refresh-token-value');
    });

    it('still opens the untouched ciphertext', () => {
      expect(cipher.decrypt(sealed, 'conn-1')).toBe('refresh-token-value');
    });
  });
});
