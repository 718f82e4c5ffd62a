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

/** Why a ciphertext was refused; none of them carries the ciphertext, the plaintext or key material. */
export type DecryptionFailure = 'malformed' | 'unknown_key' | 'not_authentic';

export class DecryptionError extends Error {
  readonly code = 'token_decryption_failed';
  constructor(
    readonly reason: DecryptionFailure,
    message: string,
  ) {
    super(message);
    this.name = 'DecryptionError';
  }
}

const VERSION = 'v1';
const IV_BYTES = 12;
/**
 * GCM's full tag. Node accepts any tag of 4 to 16 bytes on decrypt and checks only that many bytes, so a
 * forger would need 2^32 tries instead of 2^128: the length is checked here, and the decipher is created
 * with authTagLength 16 as well.
 */
const TAG_BYTES = 16;
const KEY_ID = /^[0-9a-f]{16}$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;
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

/**
 * Strict base64url: Node's decoder skips characters outside the alphabet and ignores padding and trailing
 * bits, so many strings decode to one value. Only the canonical spelling is accepted, so a ciphertext has
 * exactly one written form.
 */
function decodePart(part: string, what: string): Buffer {
  const bytes = Buffer.from(part, 'base64url');
  if (!BASE64URL.test(part) || bytes.toString('base64url') !== part) throw new DecryptionError('malformed', `the ${what} is not canonical base64url`);
  return bytes;
}

/** The parts of `v1.<keyId>.<iv>.<tag>.<data>`, each checked for shape and length before any key is used. */
function parseCiphertext(ciphertext: string): { keyId: string; iv: Buffer; tag: Buffer; data: Buffer } {
  const parts = ciphertext.split('.');
  if (parts.length !== 5 || parts[0] !== VERSION) throw new DecryptionError('malformed', 'unrecognised ciphertext format');
  const [, id, iv, tag, data] = parts as [string, string, string, string, string];
  if (!KEY_ID.test(id)) throw new DecryptionError('malformed', 'the key id is not 16 hex digits');
  const parsed = { keyId: id, iv: decodePart(iv, 'IV'), tag: decodePart(tag, 'authentication tag'), data: decodePart(data, 'data') };
  if (parsed.iv.length !== IV_BYTES) throw new DecryptionError('malformed', `the IV is ${parsed.iv.length} bytes; ${IV_BYTES} required`);
  if (parsed.tag.length !== TAG_BYTES) throw new DecryptionError('malformed', `the authentication tag is ${parsed.tag.length} bytes; ${TAG_BYTES} required`);
  return parsed;
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
      const { keyId: id, iv, tag, data } = parseCiphertext(ciphertext);
      const key = ring.get(id);
      if (!key) throw new DecryptionError('unknown_key', `no key with id ${id} is configured`);
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
        decipher.setAAD(Buffer.from(associatedData, 'utf8'));
        decipher.setAuthTag(tag);
        return Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8');
      } catch {
        // Never echo the ciphertext or key material.
        throw new DecryptionError('not_authentic', 'ciphertext failed authentication (wrong key or wrong row)');
      }
    },
    isStale(ciphertext) {
      return ciphertext.split('.')[1] !== currentId;
    },
  };
}
