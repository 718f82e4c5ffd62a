import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { freePort } from '@lever-connect/testing';
import { buildApp } from '../apps/api/src/app.js';
import { connectMany } from '../test/support/connect-flow.js';
import { pino } from './lib/deps.js';
import type { BenchResult } from './lib/report.js';
import type { BenchStack } from './lib/stack.js';

export interface ConnectFlowSize {
  connects: number;
  parallel: number;
}

/**
 * Complete "Connect Lever" round trips, driven as a browser would (test/support/connect-flow.ts): create a
 * connect session, start (302 to /authorize), the simulator's auto-approve (302 back with a code), the
 * callback (state + PKCE + code exchange + connection row + event), then the result poll.
 */
export async function benchConnectFlow(stack: BenchStack, size: ConnectFlowSize): Promise<BenchResult> {
  const port = await freePort();
  const apiUrl = `http://127.0.0.1:${port}`;
  const { core } = await stack.core({ PUBLIC_BASE_URL: apiUrl });
  const app = await buildApp({ core, logger: pino({ level: 'silent' }) });
  await app.listen({ port, host: '127.0.0.1' });
  try {
    const { key } = await core.apiKeys.create({ name: 'bench' });
    const run = randomBytes(3).toString('hex');
    await connectMany({ apiUrl, apiKey: key, count: Math.min(4, size.connects), prefix: `warm-${run}`, parallel: 2 });
    const started = performance.now();
    const ids = await connectMany({ apiUrl, apiKey: key, count: size.connects, prefix: `cf-${run}`, parallel: size.parallel });
    const seconds = (performance.now() - started) / 1000;
    const rate = ids.length / seconds;
    return {
      name: '4. connect flow',
      setup: `api = buildApp listening in the bench process, simulator in a ${stack.simKind}; ${size.connects} connects (one tenant and Lever account each), ${size.parallel} in parallel.`,
      figures: [
        { figure: 'connects/s (session → authorize → callback → result)', value: rate, unit: '/s' },
        { figure: 'mean time per connect at that parallelism', value: (seconds * 1000 * size.parallel) / ids.length, unit: 'ms' },
      ],
      notes: [`${ids.length} connections created in ${seconds.toFixed(2)} s; every connect = 5 HTTP requests (4 to the api, 1 to the simulator) + 1 code exchange`],
    };
  } finally {
    await app.close();
  }
}
