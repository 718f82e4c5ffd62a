import { createCipheriv, randomBytes } from 'node:crypto';
import { keyId } from '@lever-connect/crypto';

/**
 * A ciphertext as the token cipher wrote it before column binding (format v1, commit 89d9880): what an
 * existing deployment's rows hold. `associatedData` is what the call site passed then: the row id; for a
 * Lever signature token `<row>:signatureToken`; for the Redis stash `stash:<connection>`.
 */
export function legacyCiphertext(key: Buffer, plaintext: string, associatedData: string): string {
  const iv = randomBytes(12);
  const gcm = createCipheriv('aes-256-gcm', key, iv);
  gcm.setAAD(Buffer.from(associatedData, 'utf8'));
  const data = Buffer.concat([gcm.update(plaintext, 'utf8'), gcm.final()]);
  return ['v1', keyId(key), iv.toString('base64url'), gcm.getAuthTag().toString('base64url'), data.toString('base64url')].join('.');
}
