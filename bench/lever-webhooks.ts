import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import { buildApp } from '../apps/api/src/app.js';
import { fastify, pino } from './lib/deps.js';
import { pacedLoad, type PacedResult } from './lib/paced-load.js';
import type { BenchResult, Figure } from './lib/report.js';
import { insertConnections, issueGrant, type BenchStack } from './lib/stack.js';

export interface LeverWebhooksSize {
  /** Seconds per run. */
  durationSeconds: number;
  /** The paced rate the answer time is judged at (events per second). */
  pacedRate: number;
  /** Interleaved (floor, product) rounds of each kind, the side going first alternating; medians reported. */
  rounds: number;
  warmupMs: number;
  connections: number;
}

const EVENT = 'candidateStageChange';

/** A delivery as Lever signs it: hex HMAC-SHA256 of token + triggeredAt with the webhook's signature token. */
function signedDelivery(signatureToken: string): string {
  const token = randomBytes(12).toString('hex');
  const triggeredAt = Date.now();
  const signature = createHmac('sha256', signatureToken).update(`${token}${triggeredAt}`).digest('hex');
  return JSON.stringify({ token, triggeredAt, signature, event: EVENT, data: { opportunityId: randomUUID(), toStageId: 'stage-2', fromStageId: 'stage-1' } });
}

const median = <T>(xs: T[], key: (x: T) => number): T => [...xs].sort((a, b) => key(a) - key(b))[Math.floor(xs.length / 2)]!;

/**
 * Receiving Lever's webhooks: `POST /lever/webhooks/:subscription` (parse, find the subscription, verify
 * the signature, one INSERT … ON CONFLICT into the outbox, 200) against a floor route on the same pool that
 * does only the one INSERT of the same body. Every request is a new delivery (its own Lever token), and
 * what is counted is rows stored per second, not answers.
 */
export async function benchLeverWebhooks(stack: BenchStack, size: LeverWebhooksSize): Promise<BenchResult> {
  const { core } = await stack.core();
  const app = await buildApp({ core, logger: pino({ level: 'silent' }) });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const floor = fastify({ bodyLimit: 1024 * 1024 });
  floor.post<{ Body: { token: string } }>('/floor', async (request) => {
    await core.database.pool.query(
      `INSERT INTO "events" ("id", "type", "data", "dedupeKey") VALUES (gen_random_uuid(), 'lever.${EVENT}', $1::jsonb, $2) ON CONFLICT ("dedupeKey") DO NOTHING`,
      [JSON.stringify(request.body), `floor:${request.body.token}`],
    );
    return { received: true };
  });
  await floor.listen({ port: 0, host: '127.0.0.1' });
  try {
    const grant = await issueGrant(stack.simUrl, `lwh_${randomBytes(3).toString('hex')}`);
    const [connectionId] = await insertConnections(core, `bench-lwh-${randomBytes(3).toString('hex')}`, [grant], { due: false });
    const subscriptionId = randomUUID();
    const signatureToken = randomBytes(24).toString('hex');
    await core.database.pool.query(
      `INSERT INTO "lever_webhook_subscriptions" ("id", "connectionId", "event", "state", "leverWebhookId", "signatureTokenCiphertext", "updatedAt")
       VALUES ($1, $2, $3, 'active', $4, $5, now())`,
      [subscriptionId, connectionId, EVENT, `wh_${subscriptionId.slice(0, 8)}`, core.cipher.encrypt(signatureToken, { row: subscriptionId, column: 'signatureToken' })],
    );
    const port = (s: { server: { address(): unknown } }) => (s.server.address() as AddressInfo).port;
    const targets = {
      floor: `http://127.0.0.1:${port(floor)}/floor`,
      product: `http://127.0.0.1:${port(app)}/lever/webhooks/${subscriptionId}`,
    };
    const probe = await fetch(targets.product, { method: 'POST', headers: { 'content-type': 'application/json' }, body: signedDelivery(signatureToken) });
    if (probe.status !== 200) throw new Error(`the receiving route answered ${probe.status}: ${await probe.text()}`);
    const rows = async (side: 'floor' | 'product') =>
      Number(
        (
          await core.database.pool.query(
            side === 'floor' ? `SELECT count(*) AS n FROM "events" WHERE "dedupeKey" LIKE 'floor:%'` : `SELECT count(*) AS n FROM "events" WHERE "dedupeKey" LIKE 'lever:%'`,
          )
        ).rows[0].n,
      );

    /** At max: autocannon, a new signed delivery for every request; rows stored per second. */
    const atMax = async (side: 'floor' | 'product') => {
      const before = await rows(side);
      const result = await autocannon({
        url: targets[side],
        connections: size.connections,
        duration: size.durationSeconds,
        requests: [{ method: 'POST', headers: { 'content-type': 'application/json' }, setupRequest: (req) => Object.assign(req, { body: signedDelivery(signatureToken) }) }],
      });
      const stored = (await rows(side)) - before;
      return { stored: stored / (result.duration || size.durationSeconds), non2xx: result.non2xx, errors: result.errors + result.timeouts };
    };
    const paced = (side: 'floor' | 'product') =>
      pacedLoad({
        url: targets[side],
        headers: {},
        rate: size.pacedRate,
        durationMs: size.durationSeconds * 1000,
        connections: size.connections,
        warmupMs: size.warmupMs,
        bodies: Array.from({ length: Math.ceil((size.pacedRate * (size.durationSeconds * 1000 + size.warmupMs)) / 1000) + 10 }, () => signedDelivery(signatureToken)),
      });

    await atMax('product'); // warm-up (JIT, pools, the subscription in memory)
    const pacedRounds: Array<{ floor: PacedResult; product: PacedResult }> = [];
    const maxRounds: Array<{ floor: Awaited<ReturnType<typeof atMax>>; product: Awaited<ReturnType<typeof atMax>> }> = [];
    for (let round = 0; round < size.rounds; round++) {
      const order = round % 2 === 0 ? (['floor', 'product'] as const) : (['product', 'floor'] as const);
      const p = {} as { floor: PacedResult; product: PacedResult };
      for (const side of order) p[side] = await paced(side);
      pacedRounds.push(p);
      const m = {} as { floor: Awaited<ReturnType<typeof atMax>>; product: Awaited<ReturnType<typeof atMax>> };
      for (const side of order) m[side] = await atMax(side);
      maxRounds.push(m);
    }
    const at = median(pacedRounds, (r) => r.product.p99);
    const m = median(maxRounds, (r) => r.product.stored / r.floor.stored);
    const failures = [...pacedRounds.flatMap((r) => [r.floor, r.product]).map((r) => r.non2xx + r.errors), ...maxRounds.flatMap((r) => [r.floor, r.product]).map((r) => r.non2xx + r.errors)];
    const figures: Figure[] = [
      { figure: 'verified events stored per second (median round)', value: m.product.stored, unit: '/s', floor: m.floor.stored, floorLabel: 'one INSERT' },
      { figure: `p50 at ${size.pacedRate} events/s (paced, median round)`, value: at.product.p50, unit: 'ms', floor: at.floor.p50, floorLabel: 'one INSERT' },
      { figure: `p99 at ${size.pacedRate} events/s`, value: at.product.p99, unit: 'ms', floor: at.floor.p99, floorLabel: 'one INSERT', target: '< 50 ms', pass: at.product.p99 < 50 },
      { figure: 'answers other than 200', value: failures.reduce((a, b) => a + b, 0), unit: '', target: '0', pass: failures.every((n) => n === 0) },
    ];
    const line = (name: string, r: PacedResult) => `${name}: ${r.rps.toFixed(0)} /s achieved, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, non-2xx ${r.non2xx}, errors ${r.errors}`;
    return {
      name: '7. Lever webhooks received',
      setup:
        `the api (buildApp) and a floor (bare fastify, one INSERT … ON CONFLICT of the same body into events, same pg pool) in the bench process; ` +
        `every request a new delivery signed as Lever signs; ${size.rounds} rounds paced at ${size.pacedRate}/s over ${size.connections} keep-alive connections ` +
        `(${size.warmupMs} ms unmeasured first) and ${size.rounds} autocannon rounds at max (${size.connections} connections, ${size.durationSeconds} s), ` +
        'the side going first alternating; rows stored per second counted in Postgres; medians.',
      figures,
      notes: [
        ...pacedRounds.flatMap((r, i) => [line(`paced round ${i + 1}, floor`, r.floor), line(`paced round ${i + 1}, product`, r.product)]),
        `at max, each round, product / floor rows stored per second: ${maxRounds.map((r) => `${r.product.stored.toFixed(0)} / ${r.floor.stored.toFixed(0)}`).join('; ')}`,
      ],
    };
  } finally {
    await floor.close();
    await app.close();
  }
}
