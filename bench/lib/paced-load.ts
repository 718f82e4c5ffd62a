import { Worker } from 'node:worker_threads';

/**
 * A load generator in a worker thread. Open loop at a fixed rate: request i is due at start + i/rate and
 * its latency is measured from that due time, so time spent waiting for a free connection counts (no
 * coordinated omission). Why not autocannon's `overallRate` here: it sends each second's quota in a burst
 * at the start of the second and then "corrects" every latency above 1 ms with synthetic samples, so at a
 * fixed rate its p99 reports its own burst, not the server (seen: p99 48 ms for a route whose p99 at full
 * load was 4 ms). Closed loop (`rate: 0`) for the maximum rate: every connection sends its next request as
 * soon as the last is answered, latency measured from the send; the same cheap client as the paced runs, so
 * product and floors pay the same client cost.
 */
export interface PacedLoad {
  url: string;
  headers: Record<string, string>;
  /** Requests per second, paced open-loop; 0 = closed loop at max (each connection sends again as soon as answered). */
  rate: number;
  durationMs: number;
  /** Keep-alive connections to spread requests over (a request waits when all are busy). */
  connections: number;
  /** Paced at the same rate first and not measured (connections opened, JIT warm). */
  warmupMs: number;
  /** POST these JSON bodies in turn instead of a GET (warm-up included: give enough for both). */
  bodies?: string[];
  /** GET one of these paths (of `url`'s origin), picked uniformly at random per request, instead of `url`'s. */
  paths?: string[];
}

export interface PacedResult {
  sent: number;
  ok: number;
  non2xx: number;
  errors: number;
  /** Achieved requests per second. */
  rps: number;
  p50: number;
  p99: number;
  max: number;
}

/**
 * Runs one load in a worker thread (its own event loop, as a separate client would be). `onMeasuring` is
 * called when the warm-up is over and the measured part starts (e.g. to snapshot server-side counters).
 */
export function pacedLoad(load: PacedLoad, onMeasuring?: () => void): Promise<PacedResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./paced-load-worker.mjs', import.meta.url), { workerData: load });
    worker.on('message', (message: { type: 'measuring' } | { type: 'result'; result: PacedResult }) => {
      if (message.type === 'measuring') onMeasuring?.();
      else resolve(message.result);
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`paced load worker exited with ${code}`));
    });
  });
}

