import type { Metrics } from '@lever-connect/runtime';
import type { RefreshResult, RefreshTrigger } from './types.js';

/** Counts a refresh attempt's outcome in the metrics (labels are bounded: outcome, reason, trigger). */
export function observeRefresh(metrics: Metrics, result: RefreshResult, trigger: RefreshTrigger, durationMs: number) {
  const reason =
    result.outcome === 'failed'
      ? result.failure.reason
      : result.outcome === 'needs_reauth'
        ? result.reason
        : result.outcome === 'unavailable'
          ? result.dependency
          : '';
  metrics.refreshAttempts.inc({ outcome: result.outcome, reason, trigger });
  metrics.refreshDuration.observe({ outcome: result.outcome }, durationMs / 1000);
  if (result.outcome === 'busy') metrics.lockContention.inc({ trigger });
  if (result.outcome === 'needs_reauth' && result.reason === 'refresh_response_lost') metrics.responseLost.inc();
}
