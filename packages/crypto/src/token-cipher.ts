import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM encryption of OAuth tokens at rest.
 *
 * Format: `v1.<keyId>.<iv>.<tag>.<ciphertext>` (base64url parts). The key id (first 8 bytes of the key's
 * SHA-256, hex) lets old ciphertexts decrypt after the current key is rotated. The associated data is the
 * connection id, so a ciphertext copied to another row does not decrypt.
 */
export interface TokenCipher {
  encrypt(plaintext: string, associatedData: string): string;
  decrypt(ciphertext: string, associatedData: string): string;
  /** True when the ciphertext was made with a key other than the current one (candidate for re-encryption). */
  isStale(ciphertext: string): boolean;
}

export class DecryptionError extends Error {
  readonly code = 'token_decryption_failed';
  constructor(message: string) {
    super(message);
    this.name = 'DecryptionError';
  }
}

const VERSION = 'v1';
const IV_BYTES = 12;
/** IVs are cut from one CSPRNG buffer refilled every this many (one OpenSSL call, not one per encryption). */
const IVS_PER_FILL = 1024;

let ivPool = Buffer.alloc(0);
let ivOffset = 0;
/** A fresh random IV. IVs are public (stored in the ciphertext); what GCM needs is that none repeats. */
function nextIv(): Buffer {
  if (ivOffset + IV_BYTES > ivPool.length) {
    ivPool = randomBytes(IV_BYTES * IVS_PER_FILL);
    ivOffset = 0;
  }
  const iv = ivPool.subarray(ivOffset, ivOffset + IV_BYTES);
  ivOffset += IV_BYTES;
  return iv;
}

export function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

export function createTokenCipher(keys: { currentKey: Buffer; previousKeys?: Buffer[] }): TokenCipher {
  if (keys.currentKey.length !== 32) throw new Error('token encryption key must be 32 bytes');
  const currentId = keyId(keys.currentKey);
  const ring = new Map<string, Buffer>([[currentId, keys.currentKey]]);
  for (const key of keys.previousKeys ?? []) ring.set(keyId(key), key);

  return {
    encrypt(plaintext, associatedData) {
      const iv = nextIv();
      const cipher = createCipheriv('aes-256-gcm', keys.currentKey, iv);
      cipher.setAAD(Buffer.from(associatedData, 'utf8'));
      const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      const tag = cipher.getAuthTag();
      return [VERSION, currentId, iv.toString('base64url'), tag.toString('base64url'), data.toString('base64url')].join(
        '.',
      );
    },
    decrypt(ciphertext, associatedData) {
      const parts = ciphertext.split('.');
      if (parts.length !== 5 || parts[0] !== VERSION) throw new DecryptionError('unrecognised ciphertext format');
      const [, id, iv, tag, data] = parts as [string, string, string, string, string];
      const key = ring.get(id);
      if (!key) throw new DecryptionError(`no key with id ${id} is configured`);
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
        decipher.setAAD(Buffer.from(associatedData, 'utf8'));
        decipher.setAuthTag(Buffer.from(tag, 'base64url'));
        return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
      } catch {
        // Never echo the ciphertext or key material.
        throw new DecryptionError('ciphertext failed authentication (wrong key or wrong row)');
      }
    },
    isStale(ciphertext) {
      return ciphertext.split('.')[1] !== currentId;
    },
  };
}
