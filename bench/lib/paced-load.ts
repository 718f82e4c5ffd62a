import { Worker } from 'node:worker_threads';

/**
 * An open-loop load generator at a fixed rate, in a worker thread: request i is due at start + i/rate and
 * its latency is measured from that due time, so time spent waiting for a free connection counts (no
 * coordinated omission). Why not autocannon's `overallRate` here: it sends each second's quota in a burst
 * at the start of the second and then "corrects" every latency above 1 ms with synthetic samples, so at a
 * fixed rate its p99 reports its own burst, not the server (seen: p99 48 ms for a route whose p99 at full
 * load was 4 ms).
 */
export interface PacedLoad {
  url: string;
  headers: Record<string, string>;
  rate: number;
  durationMs: number;
  /** Keep-alive connections to spread requests over (a request waits when all are busy). */
  connections: number;
  /** Paced at the same rate first and not measured (connections opened, JIT warm). */
  warmupMs: number;
  /** POST these JSON bodies in turn instead of a GET (warm-up included: give enough for both). */
  bodies?: string[];
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

/** Runs one paced load in a worker thread (its own event loop, as a separate client would be). */
export function pacedLoad(load: PacedLoad): Promise<PacedResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./paced-load-worker.mjs', import.meta.url), { workerData: load });
    worker.once('message', (result: PacedResult) => resolve(result));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`paced load worker exited with ${code}`));
    });
  });
}

