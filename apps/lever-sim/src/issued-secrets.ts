/** Every secret the sim handed out, newest last: what a leak scan greps database dumps and logs for. */
export interface IssuedSecretsView {
  accessTokens: string[];
  refreshTokens: string[];
  codes: string[];
}

export type SecretKind = keyof IssuedSecretsView;

export interface IssuedSecrets {
  record(kind: SecretKind, secret: string): void;
  list(): IssuedSecretsView;
  /** How many of each kind were dropped (oldest first) to stay within the limit. */
  dropped(): Record<SecretKind, number>;
  clear(): void;
}

/** Default cap per kind. 200 000 access tokens (JWTs of ~700 characters) hold about 150 MB. */
export const DEFAULT_SECRETS_LIMIT = 200_000;

/** A fixed-size ring: O(1) per issued secret, so recording never slows a refresh benchmark. */
function createRing(limit: number) {
  let items: string[] = [];
  let next = 0;
  let dropped = 0;
  return {
    push(item: string) {
      if (limit === 0) {
        dropped++;
        return;
      }
      if (items.length < limit) {
        items.push(item);
        return;
      }
      items[next] = item;
      next = (next + 1) % limit;
      dropped++;
    },
    list: () => (next === 0 ? [...items] : [...items.slice(next), ...items.slice(0, next)]),
    dropped: () => dropped,
    clear() {
      items = [];
      next = 0;
      dropped = 0;
    },
  };
}

export function createIssuedSecrets(limit: number = DEFAULT_SECRETS_LIMIT): IssuedSecrets {
  const rings = { accessTokens: createRing(limit), refreshTokens: createRing(limit), codes: createRing(limit) };
  return {
    record(kind, secret) {
      rings[kind].push(secret);
    },
    list: () => ({ accessTokens: rings.accessTokens.list(), refreshTokens: rings.refreshTokens.list(), codes: rings.codes.list() }),
    dropped: () => ({ accessTokens: rings.accessTokens.dropped(), refreshTokens: rings.refreshTokens.dropped(), codes: rings.codes.dropped() }),
    clear() {
      for (const ring of Object.values(rings)) ring.clear();
    },
  };
}
