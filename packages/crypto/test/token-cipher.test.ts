import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createTokenCipher, DecryptionError, keyId, type CiphertextBinding, type CiphertextColumn, type TokenCipher } from '../src/index.js';

const ROW = '6f1d2c3b-4a59-4e68-8f7a-1b2c3d4e5f60';
const OTHER_ROW = '0b7e4c1a-2d3f-4a5b-9c8d-7e6f5a4b3c2d';
const at = (column: CiphertextColumn, row = ROW): CiphertextBinding => ({ row, column });

/** A genuine GCM ciphertext in the stored format, with an IV of any length (what a forger can write into a row). */
function sealWithIv(key: Buffer, ivBytes: number, plaintext: string, associatedData: string): string {
  const iv = randomBytes(ivBytes);
  const gcm = createCipheriv('aes-256-gcm', key, iv);
  gcm.setAAD(Buffer.from(associatedData));
  const data = Buffer.concat([gcm.update(plaintext, 'utf8'), gcm.final()]);
  return ['v2', keyId(key), iv.toString('base64url'), gcm.getAuthTag().toString('base64url'), data.toString('base64url')].join('.');
}

/** The ciphertext with one of its dot-separated parts rewritten. */
function withPart(ciphertext: string, index: number, rewrite: (part: string) => string): string {
  const parts = ciphertext.split('.');
  parts[index] = rewrite(parts[index]!);
  return parts.join('.');
}
const bytesOf = (part: string) => Buffer.from(part, 'base64url');

/** What decrypt threw (or returned, when it did not refuse). */
function refusalOf(cipher: TokenCipher, ciphertext: string, binding: CiphertextBinding): unknown {
  try {
    return cipher.decrypt(ciphertext, binding);
  } catch (error) {
    return error;
  }
}

/**
 * Ciphertexts written by the cipher before column binding (commit 89d9880, key = bytes 0..31), at ROW, with
 * the additional data each call site used then: the row id; `<row>:signatureToken`; `stash:<connection>`.
 */
const LEGACY_KEY = Buffer.from('AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=', 'base64');
const LEGACY_V1: Array<[CiphertextColumn, string, string]> = [
  ['accessToken', 'at_legacy', 'v1.630dcd2966c43366.HVXErgIeTJoBaYaP.2H_smYQx5ZOJH8VqyqcmHQ.Q48CCRQzSJHb'],
  ['refreshToken', 'rt_legacy', 'v1.630dcd2966c43366.jJ5JynxndpuXb80y.88-KcpWpk2jA_AmCVBZeyA.9FnXtr8b9xz3'],
  ['secret', 'whsec_legacy', 'v1.630dcd2966c43366._euxy-Ts9ABoEmWA.Q8zlI62P-qRlcRgTmiFdDw.BxNzPFeDKuJNmwhf'],
  ['previousSecret', 'whsec_legacy_previous', 'v1.630dcd2966c43366.NPALeMx4Iu6m5g-L.4jLvd7iFlTQQFBa_xAQ0Vg._ZWlUwSpHJ3S8LtBpLdioTGq46Mt'],
  ['signatureToken', 'sig_legacy', 'v1.630dcd2966c43366.TwxDtRYfsfL0tDs-.FHKv9W5FFlYzPlYJoYzbnQ.ip3VXaWFDJmgJA'],
  ['pendingTokens', '{"connectionId":"x"}', 'v1.630dcd2966c43366.Aby2WxKI5FyMU1mH.YnwpT-ReHt0wJXXlZtXBDQ.heE4Xvc_lfNipjzaFdU8Jf5s6DU'],
];

describe('token cipher', () => {
  const currentKey = randomBytes(32);
  const cipher = createTokenCipher({ currentKey });

  it('round-trips a token bound to its row and column, in the v2 format under the current key', () => {
    const ct = cipher.encrypt('refresh-token-value', at('refreshToken'));
    expect(ct).not.toContain('refresh-token-value');
    expect(ct.startsWith(`v2.${keyId(currentKey)}.`)).toBe(true);
    expect(ct.startsWith(cipher.currentPrefix)).toBe(true);
    expect(cipher.decrypt(ct, at('refreshToken'))).toBe('refresh-token-value');
  });

  describe('refuses a ciphertext read from anywhere but where it was written', () => {
    const cases: Array<[string, CiphertextBinding, CiphertextBinding]> = [
      ['the refresh token read as its row’s access token (swapped columns)', at('refreshToken'), at('accessToken')],
      ['the access token read as its row’s refresh token', at('accessToken'), at('refreshToken')],
      ['a webhook secret read as the previous secret', at('secret'), at('previousSecret')],
      ['a previous webhook secret read as the current one', at('previousSecret'), at('secret')],
      ['a signature token read as an access token', at('signatureToken'), at('accessToken')],
      ['a stash read as a refresh token', at('pendingTokens'), at('refreshToken')],
      ['an access token copied to another row (swapped rows)', at('accessToken'), at('accessToken', OTHER_ROW)],
      ['a refresh token copied to another row’s access token', at('refreshToken'), at('accessToken', OTHER_ROW)],
      ['a row id that ends like a column', at('accessToken', `${ROW}:refreshToken`), at('refreshToken', `${ROW}:refreshToken:accessToken`)],
    ];
    it.each(cases)('%s', (_name, written, read) => {
      const refusal = refusalOf(cipher, cipher.encrypt('secret-value', written), read);
      expect(refusal).toBeInstanceOf(DecryptionError);
      expect((refusal as DecryptionError).reason).toBe('not_authentic');
      expect((refusal as DecryptionError).message).not.toContain('secret-value');
    });
  });

  it('refuses a tampered ciphertext', () => {
    const ct = withPart(cipher.encrypt('secret', at('accessToken')), 4, () => Buffer.from('other').toString('base64url'));
    expect(() => cipher.decrypt(ct, at('accessToken'))).toThrow(/failed authentication/);
  });

  it('throws a programming error for a binding without a row or with an unknown column', () => {
    expect(() => cipher.encrypt('x', { row: '', column: 'accessToken' })).toThrow(TypeError);
    expect(() => cipher.encrypt('x', { row: ROW, column: 'token' as CiphertextColumn })).toThrow(TypeError);
    expect(() => cipher.decrypt(cipher.encrypt('x', at('secret')), { row: ROW } as CiphertextBinding)).toThrow(TypeError);
  });

  describe('refuses a ciphertext whose parts are not exactly as written, before using any key', () => {
    const sealed = cipher.encrypt('refresh-token-value', at('refreshToken'));
    const aad = `v2:${ROW}:refreshToken`;
    // Node checks only as many tag bytes as it is given (4 to 16): a truncated tag still "authenticates".
    const cases: Array<[string, string, RegExp]> = [
      ['a tag truncated to 4 bytes', withPart(sealed, 3, (t) => bytesOf(t).subarray(0, 4).toString('base64url')), /tag is 4 bytes; 16 required/],
      ['a tag truncated to 8 bytes', withPart(sealed, 3, (t) => bytesOf(t).subarray(0, 8).toString('base64url')), /tag is 8 bytes; 16 required/],
      ['a tag truncated to 12 bytes', withPart(sealed, 3, (t) => bytesOf(t).subarray(0, 12).toString('base64url')), /tag is 12 bytes; 16 required/],
      ['a 17-byte tag', withPart(sealed, 3, (t) => Buffer.concat([bytesOf(t), Buffer.of(0)]).toString('base64url')), /tag is 17 bytes/],
      ['a genuine ciphertext under a 13-byte IV', sealWithIv(currentKey, 13, 'refresh-token-value', aad), /IV is 13 bytes; 12 required/],
      ['a genuine ciphertext under an 11-byte IV', sealWithIv(currentKey, 11, 'refresh-token-value', aad), /IV is 11 bytes; 12 required/],
      ['a character outside base64url in the data', withPart(sealed, 4, (d) => `${d.slice(0, 2)}!${d.slice(2)}`), /data is not canonical/],
      ['padding on the tag', withPart(sealed, 3, (t) => `${t}==`), /tag is not canonical/],
      ['a key id that is not 16 hex digits', withPart(sealed, 1, () => 'ABCDEF0123456789'), /key id/],
      ['an unknown format', withPart(sealed, 0, () => 'v3'), /unrecognised ciphertext format/],
      ['a sixth part', `${sealed}.AAAA`, /unrecognised ciphertext format/],
    ];
    it.each(cases)('%s', (_name, ciphertext, message) => {
      const refusal = refusalOf(cipher, ciphertext, at('refreshToken'));
      expect(refusal).toBeInstanceOf(DecryptionError);
      expect((refusal as DecryptionError).reason).toBe('malformed');
      expect((refusal as DecryptionError).message).toMatch(message);
      expect((refusal as DecryptionError).message).not.toContain('refresh-token-value');
    });

    it('still opens the untouched ciphertext', () => {
      expect(cipher.decrypt(sealed, at('refreshToken'))).toBe('refresh-token-value');
      expect(sealWithIv(currentKey, 12, 'x', aad)).toMatch(/^v2\./);
      expect(cipher.decrypt(sealWithIv(currentKey, 12, 'x', aad), at('refreshToken'))).toBe('x');
    });
  });

  describe('v1 ciphertexts (bound to the row only, written before column binding)', () => {
    const upgraded = createTokenCipher({ currentKey: randomBytes(32), previousKeys: [LEGACY_KEY] });

    it.each(LEGACY_V1)('a %s still decrypts under the binding it was written with', (column, plaintext, ciphertext) => {
      expect(upgraded.decrypt(ciphertext, at(column))).toBe(plaintext);
      expect(upgraded.isStale(ciphertext)).toBe(true);
    });

    it.each(LEGACY_V1)('a %s is still refused in another row', (column, _plaintext, ciphertext) => {
      expect(refusalOf(upgraded, ciphertext, at(column, OTHER_ROW))).toBeInstanceOf(DecryptionError);
    });

    it.each(LEGACY_V1)('a %s is re-encrypted into v2 under the current key, bound to its column', (column, plaintext, ciphertext) => {
      const moved = upgraded.reencrypt(ciphertext, at(column))!;
      expect(moved.startsWith(upgraded.currentPrefix)).toBe(true);
      expect(upgraded.decrypt(moved, at(column))).toBe(plaintext);
      expect(upgraded.reencrypt(moved, at(column))).toBeNull();
      const elsewhere: CiphertextColumn = column === 'accessToken' ? 'refreshToken' : 'accessToken';
      expect(refusalOf(upgraded, moved, at(elsewhere))).toBeInstanceOf(DecryptionError);
    });

    it('is not opened under the other format’s binding: relabelled v1 → v2 or v2 → v1, it fails', () => {
      const [, , signature] = LEGACY_V1.find(([column]) => column === 'signatureToken')!;
      // v1's signature-token binding `<row>:signatureToken` is the closest to v2's; the `v2:` prefix keeps them apart.
      expect(refusalOf(upgraded, signature.replace(/^v1\./, 'v2.'), at('signatureToken'))).toBeInstanceOf(DecryptionError);
      const fresh = upgraded.encrypt('at', at('accessToken'));
      expect(refusalOf(upgraded, fresh.replace(/^v2\./, 'v1.'), at('accessToken'))).toBeInstanceOf(DecryptionError);
    });

    it('are refused outright once acceptLegacy is off', () => {
      const strict = createTokenCipher({ currentKey: LEGACY_KEY, acceptLegacy: false });
      const [column, , ciphertext] = LEGACY_V1[0]!;
      const refusal = refusalOf(strict, ciphertext, at(column));
      expect(refusal).toBeInstanceOf(DecryptionError);
      expect((refusal as DecryptionError).reason).toBe('legacy_refused');
      expect(() => strict.reencrypt(ciphertext, at(column))).toThrow(DecryptionError);
      expect(strict.decrypt(strict.encrypt('new', at(column)), at(column))).toBe('new');
    });
  });

  describe('key rotation', () => {
    const oldCipher = createTokenCipher({ currentKey });
    const newKey = randomBytes(32);
    const rotated = createTokenCipher({ currentKey: newKey, previousKeys: [currentKey] });

    it('names the configured keys by id', () => {
      expect(rotated.keyIds).toEqual({ current: keyId(newKey), previous: [keyId(currentKey)] });
      expect(createTokenCipher({ currentKey, previousKeys: [currentKey] }).keyIds.previous).toEqual([]);
    });

    it('decrypts with a previous key after rotation and flags the ciphertext stale', () => {
      const ct = oldCipher.encrypt('secret', at('accessToken'));
      expect(rotated.decrypt(ct, at('accessToken'))).toBe('secret');
      expect(rotated.isStale(ct)).toBe(true);
      expect(rotated.isStale(rotated.encrypt('x', at('accessToken')))).toBe(false);
    });

    it('re-encrypts under the newest key, which alone then opens it', () => {
      const ct = oldCipher.encrypt('secret', at('secret'));
      const moved = rotated.reencrypt(ct, at('secret'))!;
      expect(moved.startsWith(`v2.${keyId(newKey)}.`)).toBe(true);
      const newOnly = createTokenCipher({ currentKey: newKey });
      expect(newOnly.decrypt(moved, at('secret'))).toBe('secret');
      const refusal = refusalOf(newOnly, ct, at('secret'));
      expect((refusal as DecryptionError).reason).toBe('unknown_key');
      expect((refusal as DecryptionError).message).toMatch(new RegExp(`no key with id ${keyId(currentKey)}`));
    });

    it('refuses keys that are not 32 bytes', () => {
      expect(() => createTokenCipher({ currentKey: randomBytes(16) })).toThrow(/32 bytes/);
      expect(() => createTokenCipher({ currentKey, previousKeys: [randomBytes(31)] })).toThrow(/32 bytes/);
    });
  });

  it('uses a fresh IV for each encryption', () => {
    expect(cipher.encrypt('same', at('accessToken'))).not.toBe(cipher.encrypt('same', at('accessToken')));
  });
});
