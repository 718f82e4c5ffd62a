import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Core } from '@lever-connect/connections';
import { createLogger } from '@lever-connect/runtime';
import { buildApp } from '../apps/api/src/app.js';
import { fastify, pino, type FastifyInstance } from './lib/deps.js';
import { cpuMeter, cpuPer, cpuTotal, describeCpu, type CpuReading, type CpuSplit } from './lib/cpu.js';
import { pacedLoad, type PacedResult } from './lib/paced-load.js';
import type { BenchResult, Figure } from './lib/report.js';
import { insertConnections, issueGrant, type BenchStack, type SimGrant } from './lib/stack.js';
import { watchSteal } from './lib/steal.js';

export interface TokenEndpointSize {
  /** Seconds of each measured run (after its own `warmupMs`). */
  durationSeconds: number;
  /** Paced open-loop rates, requests per second; `judgedRate` must be one of them. */
  fixedRates: number[];
  /** The rate the p99 targets are judged at (rounds: `pacedRounds`; the others run one round). */
  judgedRate: number;
  /** Interleaved rounds at max (closed loop); each ratio is judged on its median round. */
  rounds: number;
  /** Interleaved rounds at the judged rate; the median round's p99 is judged. */
  pacedRounds: number;
  /** Unmeasured load, in the same mode and at the same rate, before every measured run, ms. */
  warmupMs: number;
  /** Keep-alive connections of the load generator. */
  connections: number;
  /** Connections of the realistic workload, read uniformly at random (10 000 in `full`). */
  realisticConnections: number;
}

/** Every side measured, in the order of an even round (odd rounds run it reversed). */
const SIDES = ['hot', 'constant', 'cacheOn', 'cold', 'cacheOff'] as const;
type Side = (typeof SIDES)[number];
const LABEL: Record<Side, string> = {
  hot: 'hot: product, one connection',
  constant: 'constant route',
  cacheOn: 'realistic: product, cache on',
  cold: 'SELECT + decrypt route',
  cacheOff: 'realistic: product, cache off',
};

interface Target {
  url: string;
  headers: Record<string, string>;
  /** Paths picked uniformly at random per request (the realistic sides). */
  paths?: string[];
  /** The product core behind it, for the token cache's hit ratio. */
  core?: Core;
}

interface Run extends PacedResult {
  side: Side;
  /** Share of the measured reads the token cache answered (product sides), %. */
  hitPercent?: number;
  stealPercent?: number;
  /** CPU per answered request over the measured part, by process. */
  cpu: CpuSplit;
}

/** Every side once; `reversed`: in the reverse of SIDES' order. */
type Round = Record<Side, Run> & { reversed: boolean };

const median = <T>(xs: T[], key: (x: T) => number): T => [...xs].sort((a, b) => key(a) - key(b))[Math.floor(xs.length / 2)]!;

/**
 * GET /v1/connections/:id/access-token on the real api (buildApp), three ways, each next to the floor that
 * does the least the same answer needs:
 * - hot: one connection read over and over (answered from the token cache) vs a route answering a constant;
 * - realistic, cache on and cache off (TOKEN_CACHE_TTL_MS=0): `realisticConnections` connections read
 *   uniformly at random vs a route doing one SELECT by primary key and one AES-GCM decrypt (the project's
 *   cipher) on the cache-off api's pg pool: what a cold read cannot do without.
 * Product and floors log as a deployment does by default (LOG_LEVEL=info, JSON, Fastify's request log),
 * written to /dev/null. Every run is preceded by the same unmeasured warm-up; rounds are interleaved, and
 * every other round runs the sides in reverse order, so neither side of a pair always goes first.
 */
export async function benchTokenEndpoint(stack: BenchStack, size: TokenEndpointSize): Promise<BenchResult> {
  // Asynchronous writes to /dev/null, as pino's default stdout destination: the serialization and the
  // write(2) are the process's; shipping the lines is the log collector's.
  const logging = stack.defaultLogging();
  const destination = pino.destination({ dest: '/dev/null', sync: false });
  const logger = (name: string) => createLogger(logging, name, destination);
  const { core: cached } = await stack.core({}, { logger: logger('api') });
  const { core: uncached } = await stack.core({ TOKEN_CACHE_TTL_MS: '0' }, { logger: logger('api') });
  const apps: FastifyInstance[] = [];
  const listen = async (app: FastifyInstance) => {
    apps.push(app);
    await app.listen({ port: 0, host: '127.0.0.1' });
    return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  };
  try {
    const apiOn = await listen(await buildApp({ core: cached, logger: logger('api') }));
    const apiOff = await listen(await buildApp({ core: uncached, logger: logger('api') }));
    const floor = fastify({ loggerInstance: logger('floor') }) as unknown as FastifyInstance;
    floor.get('/constant', async () => ({ ok: true }));
    // A cold read's least work: one parameterized SELECT by primary key on the api's own pool (no ORM), one
    // AES-GCM decrypt of the stored ciphertext with its row binding, the token sent back.
    const pool = uncached.database.pool;
    floor.get<{ Params: { id: string } }>('/cold/:id', async (request, reply) => {
      const { rows } = await pool.query<{ id: string; accessTokenCiphertext: string }>('SELECT "id", "accessTokenCiphertext" FROM "connections" WHERE "id" = $1', [request.params.id]);
      const row = rows[0];
      if (!row) return reply.code(404).send({ code: 'not_found' });
      return { accessToken: uncached.cipher.decrypt(row.accessTokenCiphertext, { row: row.id, column: 'accessToken' }) };
    });
    const floorUrl = await listen(floor);

    // One real grant's tokens (their length is what the cipher and the response carry) on every row: the
    // token endpoint never calls Lever for a token with an hour left.
    const grant = await issueGrant(stack.simUrl, `tok_${randomBytes(3).toString('hex')}`);
    const suffix = randomBytes(3).toString('hex');
    const [hotId] = await insertConnections(cached, `bench-token-hot-${suffix}`, [grant], { due: false });
    const grants: SimGrant[] = Array.from({ length: size.realisticConnections }, (_, i) => ({ ...grant, account: `tokr_${suffix}_${i}` }));
    const ids = await insertConnections(cached, `bench-token-realistic-${suffix}`, grants, { due: false });
    await cached.database.pool.query('ANALYZE "connections"');
    // An admin key reads every tenant's connections; the two cores share the database, so one key serves both.
    const { key } = await cached.apiKeys.create({ name: 'bench' });
    const auth = { authorization: `Bearer ${key}` };
    const tokenPaths = ids.map((id) => `/v1/connections/${id}/access-token`);
    const targets: Record<Side, Target> = {
      hot: { url: `${apiOn}/v1/connections/${hotId}/access-token`, headers: auth, core: cached },
      constant: { url: `${floorUrl}/constant`, headers: {} },
      cacheOn: { url: apiOn, headers: auth, paths: tokenPaths, core: cached },
      cold: { url: floorUrl, headers: {}, paths: ids.map((id) => `/cold/${id}`) },
      cacheOff: { url: apiOff, headers: auth, paths: tokenPaths, core: uncached },
    };
    // Sanity: each side answers 200 (the token) before anything is timed.
    for (const [side, t] of Object.entries(targets)) {
      const res = await fetch(new URL(t.paths?.[0] ?? t.url, t.url), { headers: t.headers });
      if (res.status !== 200) throw new Error(`token bench: ${side} answered ${res.status}: ${await res.text()}`);
      await res.arrayBuffer();
    }

    // Everything here shares the box's two cores: where each side's CPU goes says what bounds its rate.
    const cpu = cpuMeter({ redis: cached.redis });
    let roundNo = 0;
    /** One round: every side once at `rate` (0 = max), in SIDES order or reversed, alternating. */
    const round = async (rate: number): Promise<Round> => {
      const reversed = roundNo++ % 2 === 1;
      const order = reversed ? [...SIDES].reverse() : SIDES;
      const runs = { reversed } as Round;
      for (const side of order) {
        const t = targets[side];
        const steal = watchSteal();
        let before: { hits: number; misses: number } | undefined;
        let cpuBefore: Promise<CpuReading> | undefined;
        const result = await pacedLoad(
          {
            url: t.url,
            headers: t.headers,
            ...(t.paths ? { paths: t.paths } : {}),
            rate,
            durationMs: size.durationSeconds * 1000,
            connections: size.connections,
            warmupMs: size.warmupMs,
          },
          () => {
            before = t.core?.tokens.cacheCounts();
            cpuBefore = cpu();
          },
        );
        const cpuAfter = await cpu();
        const after = t.core?.tokens.cacheCounts();
        const reads = before && after ? after.hits - before.hits + (after.misses - before.misses) : 0;
        const stealPercent = steal.stop()?.meanPercent;
        runs[side] = {
          ...result,
          side,
          cpu: cpuPer(await cpuBefore!, cpuAfter, result.ok),
          ...(before && after && reads > 0 ? { hitPercent: (100 * (after.hits - before.hits)) / reads } : {}),
          ...(stealPercent !== undefined ? { stealPercent } : {}),
        };
      }
      return runs;
    };

    // Every side warmed the same way before the first measured run (JIT, pools, connections), at max.
    await round(0);
    const paced = new Map<number, Array<Round>>();
    for (const rate of size.fixedRates) {
      const rounds: Array<Round> = [];
      for (let r = 0; r < (rate === size.judgedRate ? size.pacedRounds : 1); r++) rounds.push(await round(rate));
      paced.set(rate, rounds);
    }
    const maxRounds: Array<Round> = [];
    for (let r = 0; r < size.rounds; r++) maxRounds.push(await round(0));

    /** The round whose product/floor max-rps ratio is the median: both sides of it ran seconds apart. */
    const maxPair = (product: Side, floorSide: Side) => {
      const pairs = maxRounds.map((r) => ({ product: r[product], floor: r[floorSide], ratio: r[product].rps / r[floorSide].rps }));
      return median(pairs, (p) => p.ratio);
    };
    /** The judged rate's round whose product p99 is the median, with its floor from the same round. */
    const judged = paced.get(size.judgedRate) ?? [];
    const pacedPair = (product: Side, floorSide: Side) => {
      const r = median(judged, (x) => x[product].p99);
      return { product: r[product], floor: r[floorSide] };
    };
    const rate = size.judgedRate;
    const roundsNote = judged.length > 1 ? ', median round' : '';
    const hot = { max: maxPair('hot', 'constant'), at: pacedPair('hot', 'constant') };
    const off = { max: maxPair('cacheOff', 'cold'), at: pacedPair('cacheOff', 'cold') };
    const on = { max: maxPair('cacheOn', 'cold'), at: pacedPair('cacheOn', 'cold') };
    const HOT_RATIO = 0.6;
    const HOT_P99_MS = 5;
    const OFF_RATIO = 0.7;
    const OFF_P99_MS = 10;

    const figures: Figure[] = [
      { figure: `hot: p50 at ${rate} rps (paced${roundsNote})`, value: hot.at.product.p50, unit: 'ms', floor: hot.at.floor.p50, floorLabel: 'constant' },
      { figure: `hot: p99 at ${rate} rps (paced${roundsNote})`, value: hot.at.product.p99, unit: 'ms', floor: hot.at.floor.p99, floorLabel: 'constant', target: `< ${HOT_P99_MS} ms`, pass: hot.at.product.p99 < HOT_P99_MS },
      { figure: 'hot: max rps (median round)', value: hot.max.product.rps, unit: 'rps', floor: hot.max.floor.rps, floorLabel: 'constant route', target: `≥ ${HOT_RATIO * 100} % of floor`, pass: hot.max.ratio >= HOT_RATIO },
      { figure: `realistic, cache off: p50 at ${rate} rps (paced${roundsNote})`, value: off.at.product.p50, unit: 'ms', floor: off.at.floor.p50, floorLabel: 'SELECT+decrypt' },
      { figure: `realistic, cache off: p99 at ${rate} rps (paced${roundsNote})`, value: off.at.product.p99, unit: 'ms', floor: off.at.floor.p99, floorLabel: 'SELECT+decrypt', target: `< ${OFF_P99_MS} ms`, pass: off.at.product.p99 < OFF_P99_MS },
      { figure: 'realistic, cache off: max rps (median round)', value: off.max.product.rps, unit: 'rps', floor: off.max.floor.rps, floorLabel: 'SELECT+decrypt route', target: `≥ ${OFF_RATIO * 100} % of floor`, pass: off.max.ratio >= OFF_RATIO },
      { figure: `realistic, cache on: p50 at ${rate} rps (paced${roundsNote})`, value: on.at.product.p50, unit: 'ms', floor: on.at.floor.p50, floorLabel: 'SELECT+decrypt' },
      { figure: `realistic, cache on: p99 at ${rate} rps (paced${roundsNote})`, value: on.at.product.p99, unit: 'ms', floor: on.at.floor.p99, floorLabel: 'SELECT+decrypt' },
      { figure: `realistic, cache on: hit ratio at ${rate} rps (same round)`, value: on.at.product.hitPercent ?? Number.NaN, unit: '%' },
      { figure: 'realistic, cache on: max rps (median round)', value: on.max.product.rps, unit: 'rps', floor: on.max.floor.rps, floorLabel: 'SELECT+decrypt route' },
      { figure: 'realistic, cache on: hit ratio at max (same round)', value: on.max.product.hitPercent ?? Number.NaN, unit: '%' },
    ];

    const cell = (r: Run) =>
      `${r.rps.toFixed(0)} rps, p50 ${r.p50.toFixed(2)} / p99 ${r.p99.toFixed(2)} / max ${r.max.toFixed(1)} ms` +
      `${r.hitPercent !== undefined ? `, hits ${r.hitPercent.toFixed(0)} %` : ''}${r.non2xx || r.errors ? `, non-2xx ${r.non2xx}, errors ${r.errors}` : ''}` +
      `${r.stealPercent !== undefined ? `, steal ${r.stealPercent.toFixed(0)} %` : ''}`;
    const roundLines = (what: string, rounds: Array<Round>) =>
      rounds.map((r, i) => `${what}${rounds.length > 1 ? ` round ${i + 1}` : ''} (${r.reversed ? 'reversed' : 'in order'}): ${SIDES.map((s) => `${s} ${cell(r[s])}`).join('; ')}`);
    const failures = [...paced.values(), maxRounds].flat().flatMap((r) => SIDES.filter((s) => r[s].non2xx > 0 || r[s].errors > 0).map((s) => `${s}: non-2xx ${r[s].non2xx}, errors ${r[s].errors}`));
    const ratios = (product: Side, floorSide: Side) => maxRounds.map((r) => `${((100 * r[product].rps) / r[floorSide].rps).toFixed(0)} %`).join(' / ');
    const missed = (name: string, ok: boolean, by: string) => (ok ? [] : [`MISSED: ${name}, by ${by}`]);

    const allRuns = [...paced.values(), maxRounds].flat().flatMap((r) => SIDES.map((side) => r[side]));
    return {
      name: '3. token endpoint',
      completed: { 'requests answered 2xx': { done: allRuns.reduce((a, r) => a + r.ok, 0), of: allRuns.reduce((a, r) => a + r.ok + r.non2xx + r.errors, 0) } },
      setup:
        `two apis (buildApp: real config, every plugin, token-read audit written) in the bench process — TOKEN_CACHE_TTL_MS default ` +
        `(${cached.config.refresh.tokenCacheTtlMs} ms) and 0 — and the floors (a bare fastify() there too: a constant; SELECT by primary key + AES-GCM ` +
        `decrypt on the cache-off api's pg pool), all logging as a deployment does by default (LOG_LEVEL=${logging.logLevel}, ` +
        `${logging.logFormat}, Fastify's request log on; written to /dev/null). Sides: ${SIDES.map((s) => `${s} = ${LABEL[s]}`).join('; ')}. ` +
        `hot reads one connection; realistic ones read ${size.realisticConnections} connections uniformly at random. ` +
        `Load from a worker thread over ${size.connections} keep-alive connections: paced open-loop at ${size.fixedRates.join(', ')} rps ` +
        `(${size.pacedRounds} rounds at ${size.judgedRate} rps, the median round's p99 judged), then closed loop at max (${size.rounds} rounds, each ` +
        `ratio judged on its median round); ${size.durationSeconds} s per run after ${size.warmupMs} ms of the same load unmeasured, one unmeasured ` +
        `round at max first; sides interleaved per round, every other round in reverse order; admin API key.`,
      figures,
      notes: [
        ...missed(`hot max rps ≥ ${HOT_RATIO * 100} % of the constant route`, hot.max.ratio >= HOT_RATIO, `${((HOT_RATIO - hot.max.ratio) * 100).toFixed(0)} points`),
        ...missed(`hot p99 < ${HOT_P99_MS} ms at ${rate} rps`, hot.at.product.p99 < HOT_P99_MS, `${(hot.at.product.p99 - HOT_P99_MS).toFixed(1)} ms`),
        ...missed(`cache-off max rps ≥ ${OFF_RATIO * 100} % of SELECT+decrypt`, off.max.ratio >= OFF_RATIO, `${((OFF_RATIO - off.max.ratio) * 100).toFixed(0)} points`),
        ...missed(`cache-off p99 < ${OFF_P99_MS} ms at ${rate} rps`, off.at.product.p99 < OFF_P99_MS, `${(off.at.product.p99 - OFF_P99_MS).toFixed(1)} ms`),
        ...[...paced].flatMap(([r, rounds]) => roundLines(`at ${r} rps`, rounds)),
        ...roundLines('at max', maxRounds),
        ...SIDES.map((side) => {
          const c = median(maxRounds, (r) => cpuTotal(r[side].cpu))[side].cpu;
          return `CPU per answered request at max, ${side} (median round): ${describeCpu(c, side === 'constant' || side === 'cold' ? 'the floor route' : 'the api')}`;
        }),
        `max rps ratios, each round: hot / constant ${ratios('hot', 'constant')}; cache off / SELECT+decrypt ${ratios('cacheOff', 'cold')}; cache on / SELECT+decrypt ${ratios('cacheOn', 'cold')}`,
        `the cache's hit ratio is that of this workload (uniform over ${size.realisticConnections} connections, warmed like every side); it rises with the read rate per connection`,
        failures.length ? `non-2xx or errors: ${failures.join('; ')}` : 'every request of every run answered 2xx',
      ],
    };
  } finally {
    // The destination stays open: the cores log until the stack closes them.
    for (const app of apps.reverse()) await app.close();
  }
}
