import { randomBytes } from 'node:crypto';

/** An /authorize request waiting for the admin's Approve/Deny click on the consent page. */
export interface PendingConsent {
  clientId: string;
  redirectUri: string;
  state?: string;
  account: string;
  audience: string;
  scope: string[];
  codeChallenge?: string;
  expiresAt: number;
}

/** The consent form carries only an opaque random id, so the page cannot be tampered into other parameters. */
export interface PendingConsents {
  add(consent: PendingConsent): string;
  /** Single use: a second click on a stale page finds nothing. */
  take(id: string, now: number): PendingConsent | undefined;
  clear(): void;
}

export const CONSENT_TTL_MS = 10 * 60 * 1000;

export function createPendingConsents(): PendingConsents {
  let pending = new Map<string, PendingConsent>();
  return {
    add(consent) {
      const id = randomBytes(24).toString('base64url');
      pending.set(id, consent);
      return id;
    },
    take(id, now) {
      const consent = pending.get(id);
      pending.delete(id);
      return consent && consent.expiresAt > now ? consent : undefined;
    },
    clear() {
      pending = new Map();
    },
  };
}
