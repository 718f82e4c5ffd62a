import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import type { BenchResult } from './lib/report.js';
import { cpuSeconds, issueGrants, simRefresh, type BenchStack } from './lib/stack.js';

export interface SimRefreshSize {
  grants: number;
  durationMs: number;
}

/**
 * The simulator's own refresh throughput: a tight loop of refresh_token grants, one lane per grant (each lane
 * presents the token its previous refresh returned, so nothing is reuse). The sim runs in its own process;
 * its CPU time (from /proc) gives refreshes per sim core-second, independent of the load generator.
 */
export async function benchSimRefresh(stack: BenchStack, size: SimRefreshSize): Promise<BenchResult> {
  const grants = await issueGrants(stack.simUrl, size.grants, `sim_${randomBytes(3).toString('hex')}`);
  let count = 0;
  const cpuBefore = cpuSeconds(stack.simPid);
  const started = performance.now();
  const end = started + size.durationMs;
  await Promise.all(
    grants.map(async (g) => {
      let token = g.refreshToken;
      while (performance.now() < end) {
        token = (await simRefresh(stack.simUrl, token)).refreshToken;
        count++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuSeconds(stack.simPid) - cpuBefore;
  const rate = count / seconds;
  const perCore = count / cpu;
  return {
    name: '5. simulator refresh',
    setup: `simulator in a ${stack.simKind}; ${size.grants} lanes of sequential refresh_token grants for ${(size.durationMs / 1000).toFixed(1)} s from the bench process (fetch, keep-alive).`,
    figures: [
      { figure: 'refreshes/s (wall clock)', value: rate, unit: '/s' },
      { figure: 'refreshes per sim CPU-second', value: perCore, unit: '/s', target: '≥ 2000 on one core', pass: perCore >= 2000 },
    ],
    notes: [`${count} refreshes; simulator used ${cpu.toFixed(2)} CPU-s in ${seconds.toFixed(2)} s of wall clock (${((cpu / seconds) * 100).toFixed(0)} % of one core): the load generator shares the other core`],
  };
}
