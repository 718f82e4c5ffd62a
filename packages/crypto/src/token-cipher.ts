import { createCipheriv, createDecipheriv, createHash, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';

/**
 * AES-256-GCM encryption of secrets at rest: OAuth tokens, webhook signing secrets, Lever webhook signature
 * tokens, and the rotated tokens the refresh stashes in Redis.
 *
 * Format: `v2.<keyId>.<iv>.<tag>.<data>` (base64url parts; keyId: the first 16 hex digits of the key's
 * SHA-256, so a ciphertext names the key that opens it and old ones still decrypt after a rotation). The
 * additional data binds a ciphertext to where it is stored, the row AND the column: `v2:<row>:<column>`. A
 * ciphertext copied to another row, or to another column of its own row (the refresh token into the access
 * token's place, where the token endpoint would hand it out), does not decrypt.
 *
 * `v1` ciphertexts, written before column binding, are bound to the row only (LEGACY_V1_ASSOCIATED_DATA).
 * The version in the ciphertext says which binding it was sealed under, so decrypt never tries one binding
 * and then another. They decrypt until `pnpm cli keys reencrypt` rewrites them, unless `acceptLegacy` is off.
 */
export interface TokenCipher {
  /** Seals under the current key, in the current format, bound to `binding`. */
  encrypt(plaintext: string, binding: CiphertextBinding): string;
  /** Opens a ciphertext read from `binding`. Throws DecryptionError. */
  decrypt(ciphertext: string, binding: CiphertextBinding): string;
  /**
   * The same plaintext sealed under the current key and format, or null when the ciphertext already is.
   * Throws DecryptionError (it must decrypt first).
   */
  reencrypt(ciphertext: string, binding: CiphertextBinding): string | null;
  /** True when the ciphertext is not in the current format under the current key (reencrypt would rewrite it). */
  isStale(ciphertext: string): boolean;
  /** What every ciphertext written now starts with (`v2.<current key id>.`); the stale ones do not. */
  readonly currentPrefix: string;
  /** The ids of the configured keys (never the keys). */
  readonly keyIds: { readonly current: string; readonly previous: readonly string[] };
}

/** Every column (or Redis value) that holds a ciphertext; its name is part of the binding. */
export const CIPHERTEXT_COLUMNS = ['accessToken', 'refreshToken', 'secret', 'previousSecret', 'signatureToken', 'pendingTokens'] as const;
export type CiphertextColumn = (typeof CIPHERTEXT_COLUMNS)[number];

/** Where a ciphertext is stored: the id of its row (a connection, a webhook endpoint...) and its column there. */
export interface CiphertextBinding {
  row: string;
  column: CiphertextColumn;
}

/** Why a ciphertext was refused; none of them carries the ciphertext, the plaintext or key material. */
export type DecryptionFailure = 'malformed' | 'unknown_key' | 'legacy_refused' | 'not_authentic';

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

export const CURRENT_FORMAT = 'v2';
/** The formats decrypt knows; the first element of a ciphertext. */
export type CiphertextFormat = 'v1' | typeof CURRENT_FORMAT;

/**
 * How each column was bound in v1: to the row id alone, except the Lever webhook signature token (bound to
 * its column from the start) and the Redis stash (to its connection and purpose).
 */
const LEGACY_V1_ASSOCIATED_DATA: Record<CiphertextColumn, (row: string) => string> = {
  accessToken: (row) => row,
  refreshToken: (row) => row,
  secret: (row) => row,
  previousSecret: (row) => row,
  signatureToken: (row) => `${row}:signatureToken`,
  pendingTokens: (row) => `stash:${row}`,
};

/**
 * The additional data of a ciphertext of this format at this binding. In v2 the column (letters only) comes
 * last, so `<row>:<column>` names exactly one (row, column) whatever the row holds, and the `v2:` prefix
 * keeps it distinct from every v1 binding (a v1 ciphertext relabelled v2, or the reverse, fails).
 */
function associatedData(format: CiphertextFormat, { row, column }: CiphertextBinding): Buffer {
  return Buffer.from(format === 'v1' ? LEGACY_V1_ASSOCIATED_DATA[column](row) : `${format}:${row}:${column}`, 'utf8');
}

/** A binding is the caller's statement of where the value lives: a missing row or an unknown column is a bug. */
function assertBinding(binding: CiphertextBinding): void {
  if (typeof binding?.row !== 'string' || binding.row === '') throw new TypeError('a ciphertext binding needs the row id');
  if (!(CIPHERTEXT_COLUMNS as readonly string[]).includes(binding.column)) throw new TypeError(`not a ciphertext column: ${String(binding.column)}`);
}

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

const isFormat = (value: string): value is CiphertextFormat => value === 'v1' || value === CURRENT_FORMAT;

interface ParsedCiphertext {
  format: CiphertextFormat;
  keyId: string;
  iv: Buffer;
  tag: Buffer;
  data: Buffer;
}

/** The parts of `<format>.<keyId>.<iv>.<tag>.<data>`, each checked for shape and length before any key is used. */
function parseCiphertext(ciphertext: string): ParsedCiphertext {
  const parts = ciphertext.split('.');
  const [format, id, iv, tag, data] = parts as [string, string, string, string, string];
  if (parts.length !== 5 || !isFormat(format)) throw new DecryptionError('malformed', 'unrecognised ciphertext format');
  if (!KEY_ID.test(id)) throw new DecryptionError('malformed', 'the key id is not 16 hex digits');
  const parsed = { format, keyId: id, iv: decodePart(iv, 'IV'), tag: decodePart(tag, 'authentication tag'), data: decodePart(data, 'data') };
  if (parsed.iv.length !== IV_BYTES) throw new DecryptionError('malformed', `the IV is ${parsed.iv.length} bytes; ${IV_BYTES} required`);
  if (parsed.tag.length !== TAG_BYTES) throw new DecryptionError('malformed', `the authentication tag is ${parsed.tag.length} bytes; ${TAG_BYTES} required`);
  return parsed;
}

export function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

export interface TokenCipherKeys {
  /** Encrypts everything written; 32 bytes. */
  currentKey: Buffer;
  /** Still decrypt (a rotation in progress); 32 bytes each. */
  previousKeys?: Buffer[] | undefined;
  /** Whether v1 ciphertexts (bound to the row only) still decrypt. Default true: turn it off once none is left. */
  acceptLegacy?: boolean | undefined;
}

export function createTokenCipher(keys: TokenCipherKeys): TokenCipher {
  const all = [keys.currentKey, ...(keys.previousKeys ?? [])];
  if (all.some((key) => key.length !== 32)) throw new Error('token encryption keys must be 32 bytes');
  // KeyObjects made once: handed a Buffer, every createCipheriv/createDecipheriv turns it into a key again,
  // 4–5× the cost of the AES-GCM work itself on a token (24–33 µs vs 6 µs per decrypt, Node 24).
  const ring = new Map<string, KeyObject>(all.map((key) => [keyId(key), createSecretKey(key)]));
  const currentId = keyId(keys.currentKey);
  const currentKey = ring.get(currentId)!;
  const acceptLegacy = keys.acceptLegacy ?? true;
  const currentPrefix = `${CURRENT_FORMAT}.${currentId}.`;

  const cipher: TokenCipher = {
    currentPrefix,
    keyIds: Object.freeze({ current: currentId, previous: Object.freeze([...ring.keys()].filter((id) => id !== currentId)) }),
    encrypt(plaintext, binding) {
      assertBinding(binding);
      const iv = nextIv();
      const gcm = createCipheriv('aes-256-gcm', currentKey, iv, { authTagLength: TAG_BYTES });
      gcm.setAAD(associatedData(CURRENT_FORMAT, binding));
      const data = Buffer.concat([gcm.update(plaintext, 'utf8'), gcm.final()]);
      return currentPrefix + [iv, gcm.getAuthTag(), data].map((part) => part.toString('base64url')).join('.');
    },
    decrypt(ciphertext, binding) {
      assertBinding(binding);
      const { format, keyId: id, iv, tag, data } = parseCiphertext(ciphertext);
      if (format === 'v1' && !acceptLegacy) throw new DecryptionError('legacy_refused', 'v1 ciphertexts (bound to the row only) are no longer accepted');
      const key = ring.get(id);
      if (!key) throw new DecryptionError('unknown_key', `no key with id ${id} is configured`);
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
        decipher.setAAD(associatedData(format, binding));
        decipher.setAuthTag(tag);
        return Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8');
      } catch {
        // Never echo the ciphertext or key material.
        throw new DecryptionError('not_authentic', 'ciphertext failed authentication (wrong key, row or column)');
      }
    },
    reencrypt(ciphertext, binding) {
      const plaintext = cipher.decrypt(ciphertext, binding);
      return cipher.isStale(ciphertext) ? cipher.encrypt(plaintext, binding) : null;
    },
    isStale(ciphertext) {
      return !ciphertext.startsWith(currentPrefix);
    },
  };
  return cipher;
}
