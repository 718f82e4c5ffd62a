import type { Registry } from 'prom-client';

const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5];

interface Series {
  route: string;
  method: string;
  status: string;
  count: number;
  sum: number;
  /** Observations ≤ each bound (not cumulative; summed when rendered). */
  buckets: Float64Array;
}

interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

export interface HttpMetrics {
  /** One finished request: its route pattern (never the raw URL), method, status and duration in seconds. */
  observe(route: string, method: string, status: number, seconds: number): void;
}

/**
 * `lever_connect_http_requests_total` (route, method, status) and `lever_connect_http_request_duration_seconds`
 * (route, method) for every api request, kept in plain counters and rendered at scrape time through the
 * registry's metric interface. Why not prom-client's Counter and Histogram here: they validate and hash the
 * label set on every observation, bound children included, which was a few per cent of the token endpoint's
 * CPU; these series are a bounded set (route patterns × methods × statuses) looked up by one string key.
 */
export function createHttpMetrics(registry: Registry): HttpMetrics {
  const series = new Map<string, Series>();

  registry.registerMetric({
    name: 'lever_connect_http_requests_total',
    help: 'HTTP requests by route, method and status code',
    type: 'counter',
    get: async () => ({
      name: 'lever_connect_http_requests_total',
      help: 'HTTP requests by route, method and status code',
      type: 'counter',
      aggregator: 'sum',
      values: [...series.values()].map((s): MetricValue => ({ value: s.count, labels: { route: s.route, method: s.method, status: s.status } })),
    }),
    reset: () => series.clear(),
  } as unknown as Parameters<Registry['registerMetric']>[0]);

  registry.registerMetric({
    name: 'lever_connect_http_request_duration_seconds',
    help: 'HTTP request duration by route and method',
    type: 'histogram',
    get: async () => {
      const byRoute = new Map<string, { route: string; method: string; count: number; sum: number; buckets: Float64Array }>();
      for (const s of series.values()) {
        const key = `${s.method} ${s.route}`;
        let r = byRoute.get(key);
        if (!r) byRoute.set(key, (r = { route: s.route, method: s.method, count: 0, sum: 0, buckets: new Float64Array(DURATION_BUCKETS.length) }));
        r.count += s.count;
        r.sum += s.sum;
        for (let i = 0; i < DURATION_BUCKETS.length; i++) r.buckets[i]! += s.buckets[i]!;
      }
      const values: MetricValue[] = [];
      for (const r of byRoute.values()) {
        const labels = { route: r.route, method: r.method };
        let cumulative = 0;
        DURATION_BUCKETS.forEach((le, i) => {
          cumulative += r.buckets[i]!;
          values.push({ metricName: 'lever_connect_http_request_duration_seconds_bucket', labels: { ...labels, le }, value: cumulative });
        });
        values.push({ metricName: 'lever_connect_http_request_duration_seconds_bucket', labels: { ...labels, le: '+Inf' }, value: r.count });
        values.push({ metricName: 'lever_connect_http_request_duration_seconds_sum', labels, value: r.sum });
        values.push({ metricName: 'lever_connect_http_request_duration_seconds_count', labels, value: r.count });
      }
      return { name: 'lever_connect_http_request_duration_seconds', help: 'HTTP request duration by route and method', type: 'histogram', aggregator: 'sum', values };
    },
    reset: () => series.clear(),
  } as unknown as Parameters<Registry['registerMetric']>[0]);

  return {
    observe(route, method, status, seconds) {
      const key = `${method} ${status} ${route}`;
      let s = series.get(key);
      if (!s) series.set(key, (s = { route, method, status: String(status), count: 0, sum: 0, buckets: new Float64Array(DURATION_BUCKETS.length) }));
      s.count++;
      s.sum += seconds;
      for (let i = 0; i < DURATION_BUCKETS.length; i++) {
        if (seconds <= DURATION_BUCKETS[i]!) {
          s.buckets[i]!++;
          break;
        }
      }
    },
  };
}
