import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { freePort, startApp } from '@lever-connect/testing';
import autocannon from 'autocannon';
import { createLogger } from '@lever-connect/runtime';
import { buildApp } from '../apps/api/src/app.js';
import { sendToLeverApi } from '../packages/lever/src/index.js';
import { cpuMeter, cpuPer, cpuTotal, describeCpu, type CpuReading, type CpuSplit } from './lib/cpu.js';
import { fastify, pino, type FastifyInstance } from './lib/deps.js';
import { pacedLoad, type PacedResult } from './lib/paced-load.js';
import type { BenchResult, Figure } from './lib/report.js';
import { insertConnections, issueGrant, type BenchStack } from './lib/stack.js';

export interface ProxySize {
  /** Seconds per run. */
  durationSeconds: number;
  /** The paced rate the added p50 is judged at (requests per second). */
  pacedRate: number;
  /** Interleaved (direct, proxy) rounds of each kind; medians reported. */
  rounds: number;
  warmupMs: number;
  /** Keep-alive connections of the paced runs. */
  connections: number;
  /**
   * Closed-loop concurrency ladder for the max rounds: each side's max is its best rate over these. One
   * figure for every side would favour the side with the fewest hops: at 10 connections the proxy (four hops
   * per call: client, Redis, simulator, client) was bound by latency, its event loop a quarter idle, while
   * direct (one hop) was already at its ceiling.
   */
  maxConnections: number[];
  /** autocannon worker threads (0 = on the bench's own event loop, which also serves the api). */
  workers: number;
}

interface Shot {
  rps: number;
  /** The closed-loop concurrency it ran at. */
  connections: number;
  non2xx: number;
  errors: number;
  cpu: CpuSplit;
}

async function shoot(url: string, headers: Record<string, string>, size: ProxySize, connections: number, cpu: () => Promise<CpuReading>): Promise<Shot> {
  const before = await cpu();
  const result = await autocannon({ url, headers, connections, duration: size.durationSeconds, ...(size.workers > 0 ? { workers: size.workers } : {}) });
  const after = await cpu();
  return {
    rps: result.requests.total / (result.duration || size.durationSeconds),
    connections,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    cpu: cpuPer(before, after, result.requests.total),
  };
}

const median = <T>(xs: T[], key: (x: T) => number): T => [...xs].sort((a, b) => key(a) - key(b))[Math.floor(xs.length / 2)]!;

type Side = 'direct' | 'bare' | 'proxy';
const SIDES: Side[] = ['direct', 'bare', 'proxy'];
/** Round r runs the sides in a rotated order, so no side always goes first or right after another. */
const orderOf = (round: number): Side[] => SIDES.map((_, i) => SIDES[(i + round) % SIDES.length]!);

/**
 * The Lever API proxy's own cost: `GET /v1/connections/:id/lever/users?limit=1` through the api against the
 * same call made straight to the simulator with the connection's access token (the floor the issue names:
 * the least work the same call needs). A simulator of its own with Lever's rate limits raised out of the
 * way, and the proxy's budget and quotas raised to match, so neither side waits for a turn: what is
 * measured is the door itself (API key, token cache, the tenant's and key's quotas and the account's budget
 * in Redis, the forwarded request, the streamed answer). A third side, *bare*, is the least any proxy hop costs: a Fastify route with no hooks that
 * forwards with the product's own Lever client (same undici pool) and streams the answer back, with a
 * fixed token; it says how much of the gap to direct is the hop itself and how much is our door.
 * The api and the bare forwarder log as a deployment does by default (LOG_LEVEL=info, Fastify's request
 * log), written to /dev/null, as in the token benchmark.
 */
export async function benchProxy(stack: BenchStack, size: ProxySize): Promise<BenchResult> {
  const simPort = await freePort();
  const sim = await startApp({
    name: 'bench-proxy-sim',
    entry: 'apps/lever-sim/src/server.ts',
    port: simPort,
    healthPath: '/__sim/stats',
    env: { LOG_LEVEL: 'warn', SIM_AUTO_APPROVE: '1', SIM_API_RATE_PER_SECOND: '1000000', SIM_API_BURST: '1000000', SIM_SECRETS_LIMIT: '0' },
  });
  const destination = pino.destination({ dest: '/dev/null', sync: false });
  const logging = stack.defaultLogging();
  const logger = (name: string) => createLogger(logging, name, destination);
  // The fair-share quotas (per tenant and per key) are raised out of the way too, not switched off: one key
  // drives the whole run, and their check is part of every call a deployment makes.
  const { core } = await stack.core({
    LEVER_SIMULATOR_URL: sim.url,
    LEVER_API_RATE_PER_SECOND: '1000000',
    LEVER_API_BURST: '1000000',
    QUOTA_PROXY_PER_TENANT_PER_SECOND: '1000000',
    QUOTA_PROXY_PER_KEY_PER_SECOND: '1000000',
  }, { logger: logger('api') });
  const app = await buildApp({ core, logger: logger('api') });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const bare = fastify({ loggerInstance: logger('bare') }) as unknown as FastifyInstance;
  try {
    const grant = await issueGrant(sim.url, `proxy_${randomBytes(3).toString('hex')}`);
    const [id] = await insertConnections(core, `bench-proxy-${randomBytes(3).toString('hex')}`, [grant], { due: false });
    const { key } = await core.apiKeys.create({ name: 'bench proxy' });
    const apiUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    bare.get('/bare/*', async (request, reply) => {
      const url = request.raw.url ?? request.url;
      const answer = await sendToLeverApi({
        baseUrl: `${sim.url}/v1`,
        method: 'GET',
        pathAndQuery: url.slice('/bare'.length),
        headers: { authorization: `Bearer ${grant.accessToken}` },
        timeoutMs: 30_000,
      });
      if (answer.kind !== 'response') return reply.code(502).send({ code: 'lever_unavailable' });
      const { 'content-type': type, 'content-length': length } = answer.headers;
      return reply.code(answer.status).headers({ 'content-type': type, 'content-length': length }).send(answer.body);
    });
    await bare.listen({ port: 0, host: '127.0.0.1' });
    const bareUrl = `http://127.0.0.1:${(bare.server.address() as AddressInfo).port}`;
    const targets: Record<Side, { url: string; headers: Record<string, string> }> = {
      direct: { url: `${sim.url}/v1/users?limit=1`, headers: { authorization: `Bearer ${grant.accessToken}` } },
      bare: { url: `${bareUrl}/bare/users?limit=1`, headers: {} },
      proxy: { url: `${apiUrl}/v1/connections/${id}/lever/users?limit=1`, headers: { authorization: `Bearer ${key}` } },
    };
    for (const [name, t] of Object.entries(targets)) {
      const probe = await fetch(t.url, { headers: t.headers });
      if (probe.status !== 200) throw new Error(`${name} answered ${probe.status}: ${await probe.text()}`);
    }
    // A page of 100 opportunities (≈ 50 KB), the list call an integration makes most: the same door, a
    // larger answer for the simulator to build and for both sides to carry. Not judged; it says how the
    // ratio moves from the smallest answer to an ordinary one.
    const pageTargets: Record<'direct' | 'proxy', { url: string; headers: Record<string, string> }> = {
      direct: { url: `${sim.url}/v1/opportunities?limit=100`, headers: targets.direct.headers },
      proxy: { url: `${apiUrl}/v1/connections/${id}/lever/opportunities?limit=100`, headers: targets.proxy.headers },
    };
    // The same unmeasured warm-up for every side (JIT, pools).
    const cpu = cpuMeter({ simPid: sim.child.pid!, redis: core.redis });
    const warm = (t: { url: string; headers: Record<string, string> }) => shoot(t.url, t.headers, { ...size, durationSeconds: 1 }, Math.max(...size.maxConnections), cpu);
    for (const side of SIDES) await warm(targets[side]);
    await warm(pageTargets.direct);
    await warm(pageTargets.proxy);

    // Latency at a fixed rate, paced open loop; the order of the sides rotates by round.
    const paced: Array<Record<Side, PacedResult>> = [];
    const run = (t: { url: string; headers: Record<string, string> }) =>
      pacedLoad({ ...t, rate: size.pacedRate, durationMs: size.durationSeconds * 1000, connections: size.connections, warmupMs: size.warmupMs });
    for (let round = 0; round < size.rounds; round++) {
      const r = {} as Record<Side, PacedResult>;
      for (const side of orderOf(round)) r[side] = await run(targets[side]);
      paced.push(r);
    }
    // At max (closed loop), interleaved the same way; each side's best over the concurrency ladder.
    const peak = async (t: { url: string; headers: Record<string, string> }): Promise<{ best: Shot; all: Shot[] }> => {
      const all: Shot[] = [];
      for (const connections of size.maxConnections) all.push(await shoot(t.url, t.headers, size, connections, cpu));
      return { best: all.reduce((a, b) => (b.rps > a.rps ? b : a)), all };
    };
    const max: Array<Record<Side, Shot>> = [];
    const shots: Shot[] = [];
    for (let round = 0; round < size.rounds; round++) {
      const r = {} as Record<Side, Shot>;
      for (const side of orderOf(round)) {
        const { best, all } = await peak(targets[side]);
        r[side] = best;
        shots.push(...all);
      }
      max.push(r);
    }
    const pages: Array<Record<'direct' | 'proxy', Shot>> = [];
    for (let round = 0; round < size.rounds; round++) {
      const r = {} as Record<'direct' | 'proxy', Shot>;
      for (const side of round % 2 === 0 ? (['direct', 'proxy'] as const) : (['proxy', 'direct'] as const)) {
        const { best, all } = await peak(pageTargets[side]);
        r[side] = best;
        shots.push(...all);
      }
      pages.push(r);
    }
    const pageBytes = (await (await fetch(pageTargets.direct.url, { headers: pageTargets.direct.headers })).arrayBuffer()).byteLength;
    const at = median(paced, (r) => r.proxy.p50 - r.direct.p50);
    const addedP50 = at.proxy.p50 - at.direct.p50;
    const m = median(max, (r) => r.proxy.rps / r.direct.rps);
    const b = median(max, (r) => r.bare.rps / r.direct.rps);
    const pg = median(pages, (r) => r.proxy.rps / r.direct.rps);
    const failures = [...paced.flatMap((r) => SIDES.map((side) => r[side])).map((r) => r.non2xx + r.errors), ...shots.map((s) => s.non2xx + s.errors)];
    const figures: Figure[] = [
      { figure: `p50 at ${size.pacedRate} rps (paced, median round)`, value: at.proxy.p50, unit: 'ms', floor: at.direct.p50, floorLabel: 'direct to Lever', target: '≤ floor + 1 ms', pass: addedP50 <= 1 },
      { figure: `p99 at ${size.pacedRate} rps`, value: at.proxy.p99, unit: 'ms', floor: at.direct.p99, floorLabel: 'direct to Lever' },
      { figure: 'max rps (median round)', value: m.proxy.rps, unit: 'rps', floor: m.direct.rps, floorLabel: 'direct to Lever', target: '≥ 50 %', pass: m.proxy.rps / m.direct.rps >= 0.5 },
      { figure: 'bare forwarder: max rps (median round)', value: b.bare.rps, unit: 'rps', floor: b.direct.rps, floorLabel: 'direct to Lever' },
      { figure: 'proxy vs bare forwarder: max rps (median round)', value: m.proxy.rps, unit: 'rps', floor: m.bare.rps, floorLabel: 'bare forwarder, same round' },
      { figure: 'a page of 100 opportunities: max rps (median round)', value: pg.proxy.rps, unit: 'rps', floor: pg.direct.rps, floorLabel: 'direct to Lever' },
      { figure: 'answers other than 200', value: failures.reduce((a, b) => a + b, 0), unit: '', target: '0', pass: failures.every((n) => n === 0) },
    ];
    const line = (name: string, r: PacedResult) => `${name}: ${r.rps.toFixed(0)} rps achieved, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, non-2xx ${r.non2xx}, errors ${r.errors}`;
    return {
      name: '6. Lever API proxy',
      setup:
        `a simulator of its own (child process) with its API limits raised to 1e6/s, the api (buildApp, LEVER_API_RATE_PER_SECOND, LEVER_API_BURST and the proxy quotas per tenant and per key raised alike) in the bench process; ` +
        `GET users?limit=1 through /v1/connections/:id/lever/* vs the simulator's /v1/users with the connection's token; ` +
        `the bare forwarder (a hook-less Fastify route forwarding with the product's Lever client) as a third side; every side with default logging to /dev/null; ` +
        `${size.rounds} interleaved rounds (the order of the sides rotates) paced at ${size.pacedRate} rps over ${size.connections} keep-alive connections after ${size.warmupMs} ms unmeasured, ` +
        `then ${size.rounds} interleaved autocannon rounds at max (${size.workers > 0 ? `${size.workers} worker thread(s)` : 'on the bench event loop'}), ${size.durationSeconds} s each at ${size.maxConnections.join(' and ')} connections, each side's best of those; ` +
        `the same for GET opportunities?limit=100, direct and proxy; medians.`,
      figures,
      notes: [
        `added p50 (proxy − direct, median round): ${addedP50.toFixed(2)} ms; bare forwarder − direct, same round: ${(at.bare.p50 - at.direct.p50).toFixed(2)} ms`,
        ...paced.flatMap((r, i) => SIDES.map((side) => line(`paced round ${i + 1}, ${side}`, r[side]))),
        `at max, each round, proxy / bare / direct (best at connections): ${max.map((r) => SIDES.map((side) => `${r[side].rps.toFixed(0)} (${r[side].connections})`).reverse().join(' / ')).join('; ')} rps`,
        `at max, a page of 100 opportunities (${(pageBytes / 1024).toFixed(0)} KiB), each round, proxy / direct: ${pages.map((r) => `${r.proxy.rps.toFixed(0)} (${r.proxy.connections}) / ${r.direct.rps.toFixed(0)} (${r.direct.connections})`).join('; ')} rps`,
        ...SIDES.map((side) => {
          const c = median(max, (r) => cpuTotal(r[side].cpu))[side].cpu;
          return `CPU per answered request at max, ${side} (median round): ${describeCpu(c, side === 'proxy' ? 'the api' : side === 'bare' ? 'the bare forwarder' : 'idle')}`;
        }),
      ],
    };
  } finally {
    await app.close();
    await bare.close();
    await sim.stop();
  }
}
