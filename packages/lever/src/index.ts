export { readLeverClaims, LEVER_CLAIMS, UnreadableAccessTokenError, type LeverClaims } from './claims.js';
export {
  classifyTokenFailure,
  type FailureKind,
  type FailureReason,
  type TokenCallOutcome,
  type TokenFailure,
} from './classify-error.js';
export { refreshAccessToken, TokenRefreshError, type TokenClientOptions } from './token-client.js';
export { InvalidTokenResponseError, parseTokenResponse, type TokenSet } from './token-set.js';
export { revokeRefreshToken, REVOKE_PATH, type RevokeOptions, type RevokeOutcome } from './revoke.js';
export { sendToLeverApi, type LeverApiRequest, type LeverApiResponse } from './api-client.js';
