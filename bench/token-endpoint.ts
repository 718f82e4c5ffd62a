import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import { buildApp } from '../apps/api/src/app.js';
import { fastify, pino } from './lib/deps.js';
import { pacedLoad, type PacedResult } from './lib/paced-load.js';
import type { BenchResult, Figure } from './lib/report.js';
import { insertConnections, issueGrant, type BenchStack } from './lib/stack.js';
import { watchSteal } from './lib/steal.js';

export interface TokenEndpointSize {
  /** Seconds per run (each paced rate × 2 targets, then `rounds` × 3 targets at max). */
  durationSeconds: number;
  /** Paced open-loop rates, requests per second. */
  fixedRates: number[];
  /** Interleaved rounds at max; the median of each target is reported. */
  rounds: number;
  /** Interleaved (product, SELECT) rounds at the judged paced rate (1 000 rps); the median round's p99 is judged. */
  pacedRounds: number;
  /** Unmeasured pacing before each paced run, ms. */
  warmupMs: number;
  connections: number;
  /** autocannon worker threads (0 = on the server's own event loop). */
  workers: number;
}

interface Shot {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

async function shoot(url: string, headers: Record<string, string>, size: TokenEndpointSize): Promise<Shot> {
  const result = await autocannon({
    url,
    headers,
    connections: size.connections,
    duration: size.durationSeconds,
    ...(size.workers > 0 ? { workers: size.workers } : {}),
  });
  return {
    rps: result.requests.total / (result.duration || size.durationSeconds),
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

/**
 * Valid-token reads (GET /v1/connections/:id/access-token, no refresh needed) against two floors served by
 * the same process: a bare Fastify route answering a constant, and one doing a single primary-key SELECT.
 */
export async function benchTokenEndpoint(stack: BenchStack, size: TokenEndpointSize): Promise<BenchResult> {
  const { core } = await stack.core();
  const logger = pino({ level: 'silent' });
  const app = await buildApp({ core, logger });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const floor = fastify();
  floor.get('/constant', async () => ({ ok: true }));
  // The cheapest honest primary-key read: one parameterized SELECT straight on the pool (no ORM).
  floor.get<{ Params: { id: string } }>('/select/:id', async (request) => {
    const { rows } = await core.database.pool.query('SELECT "id", "status", "accessTokenCiphertext" FROM "connections" WHERE "id" = $1', [request.params.id]);
    return { id: rows[0]?.id, status: rows[0]?.status };
  });
  await floor.listen({ port: 0, host: '127.0.0.1' });
  try {
    const grant = await issueGrant(stack.simUrl, `tok_${randomBytes(3).toString('hex')}`);
    const [id] = await insertConnections(core, `bench-token-${randomBytes(3).toString('hex')}`, [grant], { due: false });
    const { key } = await core.apiKeys.create({ name: 'bench' });
    const apiUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const floorUrl = `http://127.0.0.1:${(floor.server.address() as AddressInfo).port}`;
    const targets = {
      product: { url: `${apiUrl}/v1/connections/${id}/access-token`, headers: { authorization: `Bearer ${key}` } },
      select: { url: `${floorUrl}/select/${id}`, headers: {} },
      constant: { url: `${floorUrl}/constant`, headers: {} },
    };
    // Sanity: the product answers 200 with the token before anything is timed.
    const probe = await fetch(targets.product.url, { headers: targets.product.headers });
    if (probe.status !== 200) throw new Error(`token endpoint answered ${probe.status}: ${await probe.text()}`);
    await shoot(targets.product.url, targets.product.headers, { ...size, durationSeconds: 1 }); // warm-up (JIT, pools)

    // Fixed rates: open-loop, paced (lib/paced-load.ts says why not autocannon's rate option). The judged
    // rate runs several interleaved (product, SELECT) rounds and is judged on the median round's p99, like
    // the max-rps figures: a few seconds of a noisy neighbour on this shared 2-core box otherwise decide
    // the figure on their own (seen: the constant route's p99 at 1 000 rps ranged 4.6–25 ms in one minute).
    const judgedRate = size.fixedRates.includes(1000) ? 1000 : size.fixedRates[0]!;
    const paced: Record<number, Array<Record<'product' | 'select', PacedResult> & { stealPercent?: number }>> = {};
    const run = (t: { url: string; headers: Record<string, string> }, rate: number) =>
      pacedLoad({ ...t, rate, durationMs: size.durationSeconds * 1000, connections: size.connections, warmupMs: size.warmupMs });
    for (const rate of size.fixedRates) {
      paced[rate] = [];
      for (let round = 0; round < (rate === judgedRate ? size.pacedRounds : 1); round++) {
        const steal = watchSteal();
        const product = await run(targets.product, rate);
        const select = await run(targets.select, rate);
        const stealPercent = steal.stop()?.meanPercent;
        paced[rate].push({ product, select, ...(stealPercent !== undefined ? { stealPercent } : {}) });
      }
    }
    // At max (closed loop): the three targets interleaved over several rounds, median of each, so a slow
    // moment of the shared machine lands on all of them alike.
    const rounds: Record<string, Shot[]> = { product: [], select: [], constant: [] };
    for (let round = 0; round < size.rounds; round++) {
      for (const [name, t] of Object.entries(targets)) rounds[name]!.push(await shoot(t.url, t.headers, size));
    }
    const median = (shots: Shot[]): Shot => [...shots].sort((a, b) => a.rps - b.rps)[Math.floor(shots.length / 2)]!;
    const max = { product: median(rounds.product!), select: median(rounds.select!), constant: median(rounds.constant!) };
    const m = max.product;
    // A ratio is judged on the round whose product/floor ratio is the median: product and floor of one round
    // ran seconds apart, so a slow moment of the shared machine cancels out instead of landing on one side.
    const medianRound = (floor: 'select' | 'constant') => {
      const pairs = rounds.product!.map((p, i) => ({ product: p, floor: rounds[floor]![i]!, ratio: p.rps / rounds[floor]![i]!.rps }));
      return pairs.sort((a, b) => a.ratio - b.ratio)[Math.floor(pairs.length / 2)]!;
    };
    const vsSelect = medianRound('select');
    const vsConstant = medianRound('constant');
    const judged = paced[judgedRate]!;
    const at = [...judged].sort((a, b) => a.product.p99 - b.product.p99)[Math.floor(judged.length / 2)]!;
    const atRate = judgedRate;
    const roundsNote = judged.length > 1 ? ', median round' : '';

    const figures: Figure[] = [
      { figure: `p50 at ${atRate} rps (paced${roundsNote})`, value: at.product.p50, unit: 'ms', floor: at.select.p50, floorLabel: 'SELECT' },
      { figure: `p99 at ${atRate} rps (paced${roundsNote})`, value: at.product.p99, unit: 'ms', floor: at.select.p99, floorLabel: 'SELECT', target: '< 10 ms', pass: at.product.p99 < 10 },
      { figure: 'max rps vs SELECT floor (median round)', value: vsSelect.product.rps, unit: 'rps', floor: vsSelect.floor.rps, floorLabel: 'pool SELECT route', target: '≥ 90 %', pass: vsSelect.ratio >= 0.9 },
      { figure: 'max rps vs constant floor (median round)', value: vsConstant.product.rps, unit: 'rps', floor: vsConstant.floor.rps, floorLabel: 'constant route', target: '≥ 40 %', pass: vsConstant.ratio >= 0.4 },
      { figure: 'p99 at max', value: m.p99, unit: 'ms', floor: max.select.p99, floorLabel: 'SELECT' },
    ];
    const line = (name: string, s: Shot) => `${name}: ${s.rps.toFixed(0)} rps, p50 ${s.p50} ms, p99 ${s.p99} ms, non-2xx ${s.non2xx}, errors ${s.errors}`;
    const pacedLine = (name: string, r: PacedResult) =>
      `${name}: ${r.rps.toFixed(0)} rps achieved, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, max ${r.max.toFixed(1)} ms, non-2xx ${r.non2xx}, errors ${r.errors}`;
    return {
      name: '3. token endpoint',
      setup:
        `api = buildApp (real config, all plugins, token-read audit written) listening in the bench process; floors = a bare ` +
        `fastify() in the same process (constant; one SELECT by primary key on the same pg pool); fixed rates ` +
        `${size.fixedRates.join(', ')} rps paced open-loop from a worker thread over ${size.connections} keep-alive connections, each run after ${size.warmupMs} ms of unmeasured pacing (connections open, JIT warm), ` +
        `${size.pacedRounds} interleaved (product, SELECT) rounds at ${judgedRate} rps judged on the median round's p99; ` +
        `max = autocannon ${size.workers > 0 ? `in ${size.workers} worker thread(s)` : 'on the same event loop'}, ` +
        `${size.connections} connections, ${size.durationSeconds} s per run, ${size.rounds} interleaved rounds, median; one connection row, admin API key.`,
      figures,
      notes: [
        ...Object.entries(paced).flatMap(([rate, rs]) =>
          rs.flatMap((r, i) => {
            const round = rs.length > 1 ? ` round ${i + 1}` : '';
            return [pacedLine(`at ${rate} rps${round}, product`, r.product), pacedLine(`at ${rate} rps${round}, select`, r.select)];
          }),
        ),
        ...(judged.length > 1 ? [`p99 at ${judgedRate} rps, each round, product / SELECT: ${judged.map((r) => `${r.product.p99.toFixed(1)} / ${r.select.p99.toFixed(1)} ms${r.stealPercent !== undefined ? ` (host steal ${r.stealPercent.toFixed(0)} %)` : ''}`).join('; ')}`] : []),
        ...Object.entries(rounds).map(([k, shots]) => `at max, ${k}, each round: ${shots.map((s) => s.rps.toFixed(0)).join(' / ')} rps`),
        `product / constant, each round: ${rounds.product!.map((p, i) => `${((100 * p.rps) / rounds.constant![i]!.rps).toFixed(0)} %`).join(' / ')}`,
        ...Object.entries(max).map(([k, s]) => line(`at max (median), ${k}`, s)),
      ],
    };
  } finally {
    await floor.close();
    await app.close();
  }
}
