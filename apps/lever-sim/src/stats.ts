/** Counters since start or the last `/__sim/reset`; tests read them to prove what happened at "Lever". */
export interface Counters {
  tokenRequests: number;
  authorizations: number;
  codeExchanges: number;
  refreshesOk: number;
  refreshesRejected: number;
  refreshTokenReuse: number;
  grantsRevoked: number;
  apiCalls: number;
  rateLimited: number;
  faultsInjected: number;
}

export type CounterName = keyof Counters;

export interface Stats {
  increment(name: CounterName, by?: number): void;
  /** Why a token request or an API call was refused, e.g. `refresh_token_reuse`, `api_token_expired`. */
  reject(reason: string): void;
  snapshot(liveGrants: number): Counters & { liveGrants: number; rejectedByReason: Record<string, number> };
  reset(): void;
}

function zero(): Counters {
  return {
    tokenRequests: 0,
    authorizations: 0,
    codeExchanges: 0,
    refreshesOk: 0,
    refreshesRejected: 0,
    refreshTokenReuse: 0,
    grantsRevoked: 0,
    apiCalls: 0,
    rateLimited: 0,
    faultsInjected: 0,
  };
}

export function createStats(): Stats {
  let counters = zero();
  let reasons: Record<string, number> = {};
  return {
    increment(name, by = 1) {
      counters[name] += by;
    },
    reject(reason) {
      reasons[reason] = (reasons[reason] ?? 0) + 1;
    },
    snapshot: (liveGrants) => ({ ...counters, liveGrants, rejectedByReason: { ...reasons } }),
    reset() {
      counters = zero();
      reasons = {};
    },
  };
}
