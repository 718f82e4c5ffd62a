/**
 * What the API answered, per Lever account, for tests of a rate-limiting proxy ("no second saw more than
 * 20 calls, mean at most 10/s"). Separate from `/__sim/stats`, which stays one flat object of numbers.
 *
 * Keys are `<environment>:<accountId>` (the same key as the account's token bucket); a request without a
 * valid token has no account and is counted under `unknown`.
 */

/** How far back the per-second series reach, in seconds of sim time. */
export const PER_SECOND_WINDOW_SECONDS = 600;
export const UNKNOWN_ACCOUNT = 'unknown';

export type SecondCount = { second: number; count: number };

export interface ApiStatsView {
  /** Answers sent, by HTTP status, per account key. A dropped connection is no answer and is not here. */
  accounts: Record<string, Record<string, number>>;
  /** Accepted requests (status < 400: past the limiter and the handler) per sim-clock epoch second, oldest first. */
  perSecond: Record<string, SecondCount[]>;
}

export interface ApiStats {
  answered(key: string, status: number): void;
  /** `at` is sim time in ms; `key` may carry a suffix for a route's own bucket (`...:applications`). */
  accepted(key: string, at: number): void;
  view(now: number): ApiStatsView;
  clear(): void;
}

/** Drops seconds older than the window, so a long run holds at most 600 entries per key. */
function prune(series: SecondCount[], nowSecond: number): void {
  const oldest = nowSecond - PER_SECOND_WINDOW_SECONDS + 1;
  let drop = 0;
  while (drop < series.length && series[drop]!.second < oldest) drop++;
  if (drop > 0) series.splice(0, drop);
}

function addTo(series: SecondCount[], second: number): void {
  // Seconds arrive in order (the sim clock only moves forward), so the last entry is almost always the one.
  let index = series.length - 1;
  while (index >= 0 && series[index]!.second > second) index--;
  if (index >= 0 && series[index]!.second === second) series[index]!.count++;
  else series.splice(index + 1, 0, { second, count: 1 });
}

export function createApiStats(): ApiStats {
  let answers = new Map<string, Map<number, number>>();
  let perSecond = new Map<string, SecondCount[]>();
  return {
    answered(key, status) {
      const byStatus = answers.get(key) ?? new Map<number, number>();
      byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
      answers.set(key, byStatus);
    },
    accepted(key, at) {
      const second = Math.floor(at / 1000);
      const series = perSecond.get(key) ?? [];
      addTo(series, second);
      prune(series, second);
      perSecond.set(key, series);
    },
    view(now) {
      const nowSecond = Math.floor(now / 1000);
      const accounts: ApiStatsView['accounts'] = {};
      for (const [key, byStatus] of answers) accounts[key] = Object.fromEntries([...byStatus].map(([status, n]) => [String(status), n]));
      const seconds: ApiStatsView['perSecond'] = {};
      for (const [key, series] of perSecond) {
        prune(series, nowSecond);
        seconds[key] = series.map((entry) => ({ ...entry }));
      }
      return { accounts, perSecond: seconds };
    },
    clear() {
      answers = new Map();
      perSecond = new Map();
    },
  };
}
