export {
  CIPHERTEXT_COLUMNS,
  createTokenCipher,
  CURRENT_FORMAT,
  DecryptionError,
  keyId,
  type CiphertextBinding,
  type CiphertextColumn,
  type CiphertextFormat,
  type DecryptionFailure,
  type TokenCipher,
  type TokenCipherKeys,
} from './token-cipher.js';
export {
  API_KEY_DISPLAY_LENGTH,
  API_KEY_PREFIX,
  generateApiKey,
  looksLikeApiKey,
  randomSecret,
  safeEqual,
  sha256Hex,
} from './secrets.js';
export {
  describeCiphertext,
  keyUsage,
  reencryptAll,
  type CensusEntry,
  type CiphertextRecord,
  type CiphertextStore,
  type KeyUsage,
  type ReencryptFailure,
  type ReencryptOptions,
  type StoreReport,
} from './reencrypt.js';
