export { createTokenCipher, DecryptionError, keyId, type DecryptionFailure, type TokenCipher } from './token-cipher.js';
export {
  API_KEY_DISPLAY_LENGTH,
  API_KEY_PREFIX,
  generateApiKey,
  looksLikeApiKey,
  randomSecret,
  safeEqual,
  sha256Hex,
} from './secrets.js';
