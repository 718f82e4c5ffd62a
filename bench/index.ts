import { benchConnectFlow, type ConnectFlowSize } from './connect-flow.js';
import { benchConsole, type ConsoleSize } from './console.js';
import { benchLeverWebhooks, type LeverWebhooksSize } from './lever-webhooks.js';
import { benchProxy, type ProxySize } from './proxy.js';
import { benchRefreshThroughput, type RefreshThroughputSize } from './refresh-throughput.js';
import type { BenchResult } from './lib/report.js';
import { startBenchStack } from './lib/stack.js';
import { watchSteal, type StealReport } from './lib/steal.js';
import { benchScheduleAccuracy, type ScheduleAccuracySize } from './schedule-accuracy.js';
import { benchSimRefresh, type SimRefreshSize } from './sim-refresh.js';
import { benchTokenEndpoint, type TokenEndpointSize } from './token-endpoint.js';

export { renderReport, renderTable, ratio, type BenchResult, type Figure } from './lib/report.js';

export interface BenchSizes {
  refresh: RefreshThroughputSize;
  schedule: ScheduleAccuracySize;
  token: TokenEndpointSize;
  connect: ConnectFlowSize;
  sim: SimRefreshSize;
  proxy: ProxySize;
  webhooks: LeverWebhooksSize;
  console: ConsoleSize;
}

export type BenchName = keyof BenchSizes;
export const BENCH_NAMES: BenchName[] = ['refresh', 'schedule', 'token', 'connect', 'sim', 'proxy', 'webhooks', 'console'];

/** `full` is what `pnpm bench` runs (≈ 15 minutes on 2 cores); `smoke` runs in `pnpm test` (about a minute). */
export const SIZES: Record<'smoke' | 'full', BenchSizes> = {
  smoke: {
    refresh: { connections: 20, concurrency: 10, rounds: 1, timeoutMs: 20_000, budgetConnections: 150 },
    schedule: { jobs: 300, windowMs: 2_000, leadMs: 1_500, concurrency: 50, e2eRatePerSecond: 20, e2eWindowMs: 3_000 },
    token: { durationSeconds: 1, fixedRates: [200], judgedRate: 200, rounds: 1, pacedRounds: 1, warmupMs: 100, connections: 4, realisticConnections: 200 },
    connect: { connects: 4, parallel: 2 },
    sim: { grants: 8, durationMs: 500 },
    proxy: { durationSeconds: 1, pacedRate: 100, rounds: 1, warmupMs: 100, connections: 4, maxConnections: [4], workers: 0 },
    webhooks: { durationSeconds: 1, pacedRate: 100, rounds: 1, warmupMs: 100, connections: 4 },
    console: { connections: 2_000, tenants: 200, requests: 10 },
  },
  full: {
    refresh: { connections: 2_000, concurrency: 50, rounds: 5, timeoutMs: 120_000, budgetConnections: 1_000 },
    schedule: { jobs: 100_000, windowMs: 90_000, leadMs: 15_000, concurrency: 100, e2eRatePerSecond: 100, e2eWindowMs: 60_000 },
    token: { durationSeconds: 4, fixedRates: [500, 1_000, 2_000], judgedRate: 1_000, rounds: 5, pacedRounds: 5, warmupMs: 500, connections: 10, realisticConnections: 10_000 },
    connect: { connects: 300, parallel: 16 },
    sim: { grants: 64, durationMs: 5_000 },
    proxy: { durationSeconds: 4, pacedRate: 500, rounds: 3, warmupMs: 500, connections: 10, maxConnections: [10, 64], workers: 1 },
    webhooks: { durationSeconds: 4, pacedRate: 500, rounds: 3, warmupMs: 500, connections: 10 },
    console: { connections: 100_000, tenants: 20_000, requests: 200 },
  },
};

/**
 * Runs the chosen benchmarks in order over one stack (simulator child process + fresh database); the
 * schedule benchmark brings its own private Redis. Everything started here is stopped here.
 */
export async function runBenchmarks(sizes: BenchSizes, only: BenchName[] = BENCH_NAMES, onResult?: (r: BenchResult) => void): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const add = (r: BenchResult, steal: StealReport | undefined) => {
    if (steal) {
      r.notes.push(`host CPU steal during this benchmark: ${steal.meanPercent.toFixed(1)} % of the machine on average, ${steal.worstSecondPercent.toFixed(0)} % in its worst second (/proc/stat)`);
    }
    results.push(r);
    onResult?.(r);
  };
  const measured = async (run: () => Promise<BenchResult>) => {
    const steal = watchSteal();
    const result = await run();
    add(result, steal.stop());
  };
  const stack = await startBenchStack();
  try {
    // The simulator first: the figure every other one leans on.
    if (only.includes('sim')) await measured(() => benchSimRefresh(stack, sizes.sim));
    // The token endpoint before the refresh bench: its latency percentiles must not share the machine with
    // Postgres vacuuming and checkpointing what 2 000 refreshes just wrote.
    if (only.includes('token')) await measured(() => benchTokenEndpoint(stack, sizes.token));
    if (only.includes('refresh')) await measured(() => benchRefreshThroughput(stack, sizes.refresh));
    if (only.includes('connect')) await measured(() => benchConnectFlow(stack, sizes.connect));
    if (only.includes('proxy')) await measured(() => benchProxy(stack, sizes.proxy));
    if (only.includes('webhooks')) await measured(() => benchLeverWebhooks(stack, sizes.webhooks));
    if (only.includes('console')) await measured(() => benchConsole(stack, sizes.console));
    if (only.includes('schedule')) await measured(() => benchScheduleAccuracy(stack, sizes.schedule));
  } finally {
    await stack.close();
  }
  return results;
}
