import { randomBytes, randomUUID } from 'node:crypto';
import { createIssuedSecrets, type IssuedSecrets } from './issued-secrets.js';

/**
 * In-memory state of the auth server: authorization codes, grants (one per completed authorization, each
 * with its own refresh-token family), refresh tokens and the jti of every access token. All methods are
 * synchronous on purpose: callers read and mutate in one tick so concurrent requests cannot interleave.
 * Every code and token is also recorded in `secrets` where it is issued, so none can escape a leak scan.
 */

export type GrantStatus = 'active' | 'revoked';

/** How many undelivered rotations a grant keeps: a census needs the recent ones, a long benchmark must stay bounded. */
export const UNDELIVERED_KEPT = 20;

/** One answer that issued a grant new tokens, and what became of it on the wire (rotation-delivery.ts). */
export interface Rotation {
  /** Sim clock, when Lever rotated. */
  at: number;
  /** null until the answer was written out or the connection closed first. */
  delivered: boolean | null;
  /** Sim clock, when `delivered` was last decided (a reset can revise true to false). */
  settledAt?: number;
  /** The client's TCP port (its side of the connection): tells which client process was asked. null in-process. */
  clientPort: number | null;
  /** Why it was not delivered: the connection closed before the answer was written, or the client reset it unread. */
  lostBy?: 'closed_before_written' | 'reset_unread';
}

export interface Grant {
  id: string;
  account: string;
  userId: string;
  clientId: string;
  audience: string;
  scope: string[];
  createdAt: number;
  status: GrantStatus;
  revokedAt?: number;
  revokedReason?: string;
  refreshCount: number;
  /** Answers that issued this grant new tokens: its code exchange and each refresh rotation (not leeway replays). */
  rotations: number;
  /** The latest of those, and whether its answer reached the client (null while it is being written). */
  lastRotation?: Rotation;
  /** Rotations whose answer never reached the client, oldest first (the last UNDELIVERED_KEPT of them). */
  undelivered: Rotation[];
  /** The one refresh token of the family that still works (undefined without offline_access). */
  currentRefreshToken?: string;
}

/** What a successful token request answered, kept so a leeway replay can answer the same. */
export interface IssuedTokens {
  accessToken: string;
  accessTokenExpiresAt: number;
  refreshToken?: string;
}

export interface RefreshTokenRecord {
  grantId: string;
  issuedAt: number;
  status: 'live' | 'rotated';
  rotatedAt?: number;
  /** The answer of the refresh that rotated this token; kept only while a reuse leeway is configured. */
  successor?: IssuedTokens;
  /** A rotated token may be replayed once inside the reuse leeway. */
  leewayUsed: boolean;
}

export interface AuthorizationCode {
  clientId: string;
  redirectUri: string;
  account: string;
  userId: string;
  audience: string;
  scope: string[];
  codeChallenge?: string;
  createdAt: number;
  used: boolean;
  /** Set once exchanged: a second exchange revokes this grant, as Auth0 does. */
  grantId?: string;
}

export interface Store {
  createCode(input: Omit<AuthorizationCode, 'used' | 'grantId'>): string;
  findCode(code: string): AuthorizationCode | undefined;
  createGrant(input: Pick<Grant, 'account' | 'userId' | 'clientId' | 'audience' | 'scope' | 'createdAt'>): Grant;
  findGrant(id: string): Grant | undefined;
  listGrants(): Grant[];
  /** Returns false when the grant was already revoked (so counters move once). */
  revokeGrant(grant: Grant, reason: string, at: number): boolean;
  /** Issues a new refresh token for the grant; the caller marks the previous one rotated. */
  issueRefreshToken(grant: Grant, at: number): string;
  findRefreshToken(token: string): RefreshTokenRecord | undefined;
  recordAccessToken(jti: string, grantId: string, accessToken: string): void;
  grantOfAccessToken(jti: string): Grant | undefined;
  /** Every code and token issued since the last clear (bounded, oldest dropped). */
  secrets: Pick<IssuedSecrets, 'list' | 'dropped'>;
  clear(): void;
}

export function newOpaqueToken(): string {
  return randomBytes(32).toString('base64url');
}

export function createStore(options: { secretsLimit?: number } = {}): Store {
  let codes = new Map<string, AuthorizationCode>();
  let grants = new Map<string, Grant>();
  let refreshTokens = new Map<string, RefreshTokenRecord>();
  let accessTokens = new Map<string, string>();
  const secrets = createIssuedSecrets(options.secretsLimit);

  return {
    createCode(input) {
      const code = newOpaqueToken();
      codes.set(code, { ...input, used: false });
      secrets.record('codes', code);
      return code;
    },
    findCode: (code) => codes.get(code),
    createGrant(input) {
      const grant: Grant = { ...input, id: `grant_${randomUUID().replaceAll('-', '')}`, status: 'active', refreshCount: 0, rotations: 0, undelivered: [] };
      grants.set(grant.id, grant);
      return grant;
    },
    findGrant: (id) => grants.get(id),
    listGrants: () => [...grants.values()],
    revokeGrant(grant, reason, at) {
      if (grant.status === 'revoked') return false;
      grant.status = 'revoked';
      grant.revokedAt = at;
      grant.revokedReason = reason;
      return true;
    },
    issueRefreshToken(grant, at) {
      const token = newOpaqueToken();
      refreshTokens.set(token, { grantId: grant.id, issuedAt: at, status: 'live', leewayUsed: false });
      grant.currentRefreshToken = token;
      secrets.record('refreshTokens', token);
      return token;
    },
    findRefreshToken: (token) => refreshTokens.get(token),
    recordAccessToken(jti, grantId, accessToken) {
      accessTokens.set(jti, grantId);
      secrets.record('accessTokens', accessToken);
    },
    grantOfAccessToken(jti) {
      const grantId = accessTokens.get(jti);
      return grantId === undefined ? undefined : grants.get(grantId);
    },
    secrets,
    clear() {
      codes = new Map();
      grants = new Map();
      refreshTokens = new Map();
      accessTokens = new Map();
      secrets.clear();
    },
  };
}
