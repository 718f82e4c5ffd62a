import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { APP_ENTRIES, deleteRedisPrefix, freePort, startApp, waitFor, type ManagedProcess } from '@lever-connect/testing';
import pg from 'pg';
import { census, settle } from './checks.js';
import {
  attributeKills,
  collectDbTokens,
  collectSimSecrets,
  count5xx,
  newSecretSet,
  registerWebhook,
  scanForSecrets,
  simGrants,
  startKiller,
  startReaders,
  startWebhookReceiver,
  trackLogs,
  unexplainedUnanswered,
  UNSTORED_WINDOW_MS,
  verdict,
  type KillRecord,
  type ReaderStats,
  type ReliabilityRow,
  type SecretLeak,
  type SecretSet,
  type WebhookReceiver,
} from './chaos-harness.js';
import { connectMany } from './connect-flow.js';
import { startOwnPostgres, startOwnRedis } from './servers.js';
import { startStack, type Stack } from './stack.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const DAY = 86_400;

/** Scenario sizes: `smoke` runs inside `pnpm test` (≤ ~4 min in all), `full` is `pnpm test:chaos`. */
export interface ChaosSizes {
  name: 'smoke' | 'full';
  load: { workers: number; apis: number; connections: number; cycles: number; readers: number };
  kill: { workers: number; apis: number; connections: number; durationMs: number; everyMs: number };
  redis: { workers: number; connections: number; downMs: number };
  postgres: { workers: number; apis: number; connections: number; outageMs: number };
  lever: { workers: number; connections: number; storm: number; slowMs: number; revoke: number };
  clock: { workers: number; connections: number; ttlSeconds: number };
  lost: { workers: number; connections: number; faults: number; faultsLeewayZero: number };
  fence: { workers: number; connections: number; watchMs: number };
}

export const SMOKE: ChaosSizes = {
  name: 'smoke',
  load: { workers: 2, apis: 2, connections: 60, cycles: 3, readers: 4 },
  kill: { workers: 2, apis: 2, connections: 20, durationMs: 15_000, everyMs: 4_000 },
  redis: { workers: 1, connections: 15, downMs: 2_000 },
  postgres: { workers: 1, apis: 1, connections: 15, outageMs: 10_000 },
  lever: { workers: 1, connections: 12, storm: 12, slowMs: 6_000, revoke: 2 },
  clock: { workers: 1, connections: 10, ttlSeconds: 6 },
  lost: { workers: 1, connections: 10, faults: 5, faultsLeewayZero: 2 },
  fence: { workers: 1, connections: 10, watchMs: 5_000 },
};

export const FULL: ChaosSizes = {
  name: 'full',
  load: { workers: 8, apis: 2, connections: 500, cycles: 10, readers: 8 },
  kill: { workers: 4, apis: 2, connections: 100, durationMs: 240_000, everyMs: 4_000 },
  redis: { workers: 4, connections: 200, downMs: 10_000 },
  postgres: { workers: 4, apis: 2, connections: 200, outageMs: 30_000 },
  lever: { workers: 4, connections: 100, storm: 200, slowMs: 60_000, revoke: 10 },
  clock: { workers: 2, connections: 100, ttlSeconds: 10 },
  lost: { workers: 2, connections: 100, faults: 50, faultsLeewayZero: 10 },
  fence: { workers: 2, connections: 100, watchMs: 60_000 },
};

/** The in-flight depth sweep (`pnpm test:chaos`, reports/refresh-depth.md): one run per REFRESH_CONCURRENCY. */
export interface DepthSizes {
  workers: number;
  connections: number;
  measureMs: number;
  killMs: number;
  everyMs: number;
  latencyMs: number;
  concurrencies: number[];
}

export const DEPTH: DepthSizes = { workers: 2, connections: 300, measureMs: 20_000, killMs: 60_000, everyMs: 3_000, latencyMs: 150, concurrencies: [1, 2, 5, 20] };

export interface ScenarioOutcome {
  row: ReliabilityRow;
  leaks: SecretLeak[];
  /** Exit codes of processes that exited on their own (not killed by the test). */
  crashed: string[];
  /** Extra facts a scenario asserts on. */
  facts: Record<string, unknown>;
}

interface Ctx {
  stack: Stack;
  receiver: WebhookReceiver;
  ids: string[];
  logs: Set<string>;
  secrets: SecretSet;
  readerStats: ReaderStats[];
  notes: string[];
  facts: Record<string, unknown>;
  expectedReauthAccounts: Set<string>;
  allReauthExpected: boolean;
  /** Processes the scenario itself stopped or killed (their exit is not a crash). */
  killedOnPurpose: Set<ManagedProcess>;
  /** SIGKILLs the scenario dealt (they explain answers that never came, and grants lost with them). */
  kills: KillRecord[];
}

async function refreshesOk(stack: Stack): Promise<number> {
  return (await stack.simStats()).refreshesOk!;
}

/** Waits until the simulator has answered `count` more refreshes than `from`. */
async function waitRefreshes(stack: Stack, from: number, count: number, what: string, timeoutMs = 120_000) {
  await waitFor(what, async () => (await refreshesOk(stack)) >= from + count, { timeoutMs, intervalMs: 500 });
}

/**
 * Waits for a full refresh cycle: every active connection refreshed (by schedule or read) after `since`.
 * Counting refreshes is not enough: forced reads add refreshes without touching every connection.
 */
async function waitFullCycle(stack: Stack, what: string, since = new Date(), timeoutMs = 120_000) {
  await waitFor(
    what,
    async () => (await stack.db.db.prisma.connection.count({ where: { status: 'active', lastRefreshedAt: { lt: since } } })) === 0,
    { timeoutMs, intervalMs: 500 },
  );
}

/**
 * One scenario end to end: receiver + stack + webhook endpoint + connections, the fault (`body`), then the
 * verdict, the secrets scan and the row of the table.
 */
async function scenario(
  name: string,
  options: Parameters<typeof startStack>[0] & { connections: number },
  body: (ctx: Ctx) => Promise<void>,
): Promise<ScenarioOutcome> {
  const started = Date.now();
  const receiver = await startWebhookReceiver();
  const stack = await startStack({ ...options, env: { LOG_LEVEL: 'info', ...options.env } });
  const ctx: Ctx = {
    stack,
    receiver,
    ids: [],
    logs: trackLogs(stack),
    secrets: newSecretSet(stack),
    readerStats: [],
    notes: [],
    facts: {},
    expectedReauthAccounts: new Set(),
    allReauthExpected: false,
    killedOnPurpose: new Set(),
    kills: [],
  };
  try {
    const hook = await registerWebhook(stack, receiver.url);
    ctx.secrets.other.set('webhook secret', hook.secret);
    ctx.ids = await connectMany({ apiUrl: stack.api.url, apiKey: stack.adminKey, count: options.connections, prefix: name.split(' ')[0], parallel: 6 });
    await collectDbTokens(stack, ctx.secrets);
    await body(ctx);
    await settle(stack);
    for (const p of [...stack.apis, ...stack.workers]) ctx.logs.add(p.logFile);
    const v = await verdict(stack, receiver, { expectedReauthAccounts: ctx.expectedReauthAccounts, allReauthExpected: ctx.allReauthExpected });
    await collectDbTokens(stack, ctx.secrets);
    await collectSimSecrets(stack, ctx.secrets);
    const scan = await scanForSecrets(stack, ctx.secrets, ctx.logs, name.replace(/\W+/g, '-'));
    const stats = v.simStats; // before the census's forced refreshes
    const errors = count5xx(...ctx.readerStats);
    const reads = ctx.readerStats.reduce((n, s) => n + s.reads, 0);
    const statuses: Record<string, number> = {};
    for (const s of ctx.readerStats) for (const [k, n] of Object.entries(s.statuses)) statuses[k] = (statuses[k] ?? 0) + n;
    const crashed = [...stack.apis, ...stack.workers]
      .filter((p) => !ctx.killedOnPurpose.has(p) && (p.child.exitCode !== null || p.child.signalCode !== null))
      .map((p) => `${p.name} ${p.url} exited ${p.child.exitCode ?? p.child.signalCode}`);
    const unanswered = unexplainedUnanswered(ctx.readerStats, ctx.kills);
    const unansweredAll = ctx.readerStats.reduce((n, s) => n + s.unanswered.length, 0);
    const simOffsetMs = ((await (await fetch(`${stack.sim.url}/__sim/clock`)).json()) as { offsetSeconds: number }).offsetSeconds * 1000;
    const killed = ctx.kills.length ? attributeKills(ctx.kills, v.grants, v.lost, { startedAt: started, simOffsetMs }) : undefined;
    // A lost grant whose answer was delivered is ours, unless it reached a process frozen moments later.
    const unexplainedLost = v.unexplainedLost.filter((line) => !killed?.lostAtKill.has(line.split(' ')[0]!));
    // The row first; the notes that repeat a figure of the table are written from the row.
    const row: ReliabilityRow = {
      scenario: name,
      durationS: Math.round((Date.now() - started) / 1000),
      refreshesDone: stats.refreshesOk!,
      reuseDetections: v.unexplainedReuse.length,
      lostTokens: v.lostTokens.length,
      staleRefreshTokens: v.forced.stale.length,
      responsesLost: v.lost.length,
      unexplainedLost: unexplainedLost.length,
      falseReauth: v.falseReauth.length,
      eventsMissing: v.eventsMissing.length,
      answers5xx: errors.hard,
      unansweredReads: unanswered.length,
      ...(killed ? { kills: killed.perKill } : {}),
      notes: '',
    };
    ctx.notes.push(
      `${v.census.total} connections: ${v.census.active} active (${v.census.accepted} accepted by the simulator), ` +
        `${v.census.needsReauth.length} needs_reauth (${v.expectedReauth} expected invalid_grant, ${row.responsesLost} refresh_response_lost, ` +
        `${v.unexplainedLost.length} of them with their last rotation delivered, ${v.unexplainedLost.length - row.unexplainedLost} of those to a process frozen within ` +
        `${UNSTORED_WINDOW_MS / 1000} s of the delivery, before it stored it)`,
      `census: ${v.forced.forced} forced refreshes with the simulator's reuse leeway at 0, ${v.forced.rotated} rotated at Lever, ` +
        `${v.forced.newReuse} reuse detections, ${row.staleRefreshTokens} stale refresh tokens`,
      `simulator: ${stats.tokenRequests} token requests, ${row.refreshesDone} refreshes, ${stats.refreshTokenReuse} reuse detections in all, ` +
        `${stats.grantsRevoked} grants revoked, ${stats.faultsInjected} faults injected, ${stats.rotationsUndelivered} rotations undelivered`,
      `token endpoint: ${reads} reads, statuses ${JSON.stringify(statuses)} (${errors.retryable} × 503 retry-after; ` +
        `${unansweredAll} unanswered, ${unansweredAll - row.unansweredReads} of them explained by an api kill)`,
      `webhooks: ${v.webhooksReceived} events received (${receiver.deliveries} deliveries)`,
      `secrets scan: ${scan.secrets} secrets × ${scan.scanned} files (pg_dump + logs): ${scan.leaks.length} found`,
    );
    if (crashed.length) ctx.notes.push(`crashed: ${crashed.join('; ')}`);
    if (v.falseReauth.length) ctx.notes.push(`false needs_reauth: ${v.falseReauth.slice(0, 5).join('; ')}`);
    if (v.lostTokens.length) ctx.notes.push(`lost: ${v.lostTokens.slice(0, 5).join('; ')}`);
    if (v.forced.stale.length) ctx.notes.push(`stale: ${v.forced.stale.slice(0, 5).join('; ')}`);
    if (unexplainedLost.length) ctx.notes.push(`lost with the answer delivered: ${unexplainedLost.slice(0, 5).join('; ')}`);
    if (killed?.lostAtNoKill.length) ctx.notes.push(`lost, answer undelivered but at no kill: ${killed.lostAtNoKill.slice(0, 5).join('; ')}`);
    if (v.eventsMissing.length) ctx.notes.push(`missing: ${v.eventsMissing.slice(0, 5).join('; ')}`);
    if (v.unexplainedReuse.length) ctx.notes.push(`reuse: ${v.unexplainedReuse.slice(0, 5).join('; ')}`);
    if (unanswered.length) ctx.notes.push(`unanswered: ${unanswered.slice(0, 5).map((u) => `${u.api} ${new Date(u.startedAt).toISOString()}`).join('; ')}`);
    row.notes = ctx.notes.join('. ') + '.';
    console.log(`[chaos] ${name}: ${JSON.stringify({ ...row, notes: undefined, kills: row.kills?.length })}\n  ${ctx.notes.join('\n  ')}`);
    return { row, leaks: scan.leaks, crashed, facts: ctx.facts };
  } finally {
    await stack.stop();
    await receiver.close();
  }
}

// ---------------------------------------------------------------------------------------------------------

/** 1. Many workers and api processes under token-endpoint load, short tokens, many refresh cycles. */
export function loadScenario(s: ChaosSizes) {
  const z = s.load;
  return scenario(
    `1 load: ${z.workers} workers + ${z.apis} apis, ${z.connections} connections, ${z.cycles} cycles`,
    {
      workers: z.workers,
      apis: z.apis,
      connections: z.connections,
      simEnv: { SIM_ACCESS_TOKEN_TTL: '10' },
      env: { REFRESH_RATE_LIMIT_PER_SECOND: '500', REFRESH_CONCURRENCY: '50' },
    },
    async (ctx) => {
      const from = await refreshesOk(ctx.stack);
      const readers = startReaders(ctx.stack, ctx.ids, { concurrency: z.readers, forceEvery: 25, seenTokens: ctx.secrets.accessTokens });
      try {
        await waitRefreshes(ctx.stack, from, z.connections * z.cycles, `${z.cycles} refresh cycles`, z.cycles * 30_000 + 60_000);
      } finally {
        ctx.readerStats.push(await readers.stop());
      }
      ctx.notes.push(`token readers on every api (1 forced refresh in 25) during ${z.cycles} full refresh cycles of 10 s tokens`);
    },
  );
}

/** 2. SIGKILL of random workers and api processes for the whole run, each restarted by the test. */
export function killScenario(s: ChaosSizes, leewaySeconds: number) {
  const z = s.kill;
  return scenario(
    `2${leewaySeconds ? 'a' : 'b'} SIGKILL every ~${z.everyMs / 1000} s, reuse leeway ${leewaySeconds} s`,
    {
      workers: z.workers,
      apis: z.apis,
      connections: z.connections,
      simEnv: { SIM_ACCESS_TOKEN_TTL: '10', SIM_REUSE_LEEWAY_SECONDS: String(leewaySeconds) },
      env: { LEVER_HTTP_TIMEOUT_MS: '3000' },
    },
    async (ctx) => {
      // Keep refreshes in flight when a signal lands.
      await ctx.stack.simPost('/__sim/config', { latencyMs: 150 });
      const readers = startReaders(ctx.stack, ctx.ids, { concurrency: 3, forceEvery: 10, seenTokens: ctx.secrets.accessTokens });
      const before = [...ctx.stack.apis, ...ctx.stack.workers];
      const killer = startKiller(ctx.stack, ctx.logs, { everyMs: z.everyMs });
      ctx.kills = killer.log;
      await sleep(z.durationMs);
      await killer.stop();
      for (const p of before) if (!ctx.stack.apis.includes(p) && !ctx.stack.workers.includes(p)) ctx.killedOnPurpose.add(p);
      ctx.readerStats.push(await readers.stop());
      await ctx.stack.simPost('/__sim/config', { latencyMs: 0 });
      ctx.facts.kills = killer.kills;
      ctx.notes.push(
        `${killer.kills.worker} workers and ${killer.kills.api} apis SIGKILLed and restarted over ${z.durationMs / 1000} s (sim latency 150 ms); ` +
          `a dead holder's lock (23 s) and lease (18 s) expire, and the takeover grace (3 s) passes, before another process retries`,
      );
    },
  );
}

/**
 * 2c. What in-flight depth costs when Lever's reuse leeway is 0: with REFRESH_CONCURRENCY = `concurrency`
 * per worker, the refresh rate the workers sustain (short tokens keep more connections due than they can
 * refresh at the lower depths: the rate is the depth's, not the demand's), then grants lost per worker
 * SIGKILL. A rotation Lever made for a process that died before reading the answer cannot be recovered at
 * leeway 0; a process has at most `concurrency` refreshes at Lever at once.
 */
export function depthScenario(z: DepthSizes, concurrency: number) {
  return scenario(
    `2c depth: REFRESH_CONCURRENCY=${concurrency}, ${z.workers} workers, leeway 0 s`,
    {
      workers: z.workers,
      connections: z.connections,
      simEnv: { SIM_ACCESS_TOKEN_TTL: '10', SIM_REUSE_LEEWAY_SECONDS: '0' },
      // The default refresh budget (50/s for the fleet) stays: it caps the fleet's depth too.
      env: { LEVER_HTTP_TIMEOUT_MS: '3000', REFRESH_CONCURRENCY: String(concurrency) },
    },
    async (ctx) => {
      await ctx.stack.simPost('/__sim/config', { latencyMs: z.latencyMs });
      await sleep(3_000); // past the first rotations after connecting
      const from = await refreshesOk(ctx.stack);
      const measuredFrom = Date.now();
      await sleep(z.measureMs);
      const rate = ((await refreshesOk(ctx.stack)) - from) / ((Date.now() - measuredFrom) / 1000);
      const before = [...ctx.stack.workers];
      const killer = startKiller(ctx.stack, ctx.logs, { everyMs: z.everyMs, workersOnly: true });
      ctx.kills = killer.log;
      await sleep(z.killMs);
      await killer.stop();
      for (const p of before) if (!ctx.stack.workers.includes(p)) ctx.killedOnPurpose.add(p);
      await ctx.stack.simPost('/__sim/config', { latencyMs: 0 });
      ctx.facts.concurrency = concurrency;
      ctx.facts.refreshesPerSecond = rate;
      ctx.notes.push(
        `REFRESH_CONCURRENCY=${concurrency} per worker, sim latency ${z.latencyMs} ms: ${rate.toFixed(1)} refreshes/s over ${z.measureMs / 1000} s without kills; ` +
          `then ${killer.kills.worker} worker SIGKILLs over ${z.killMs / 1000} s`,
      );
    },
  );
}

/** 3. Redis: FLUSHALL mid-run, then a restart of redis-server. */
export async function redisScenario(s: ChaosSizes) {
  const z = s.redis;
  const redis = await startOwnRedis();
  try {
    return await scenario(
      `3 Redis FLUSHALL + restart (${z.downMs / 1000} s down)`,
      { workers: z.workers, connections: z.connections, redisUrl: redis.url, simEnv: { SIM_ACCESS_TOKEN_TTL: '10' } },
      async (ctx) => {
        const readers = startReaders(ctx.stack, ctx.ids, { concurrency: 2, forceEvery: 20, seenTokens: ctx.secrets.accessTokens });
        try {
          await waitRefreshes(ctx.stack, 0, z.connections, 'a first refresh cycle');
          await redis.flushAll();
          await waitFullCycle(ctx.stack, 'a full cycle after FLUSHALL');
          await redis.stop();
          await sleep(z.downMs);
          await redis.start();
          await waitFullCycle(ctx.stack, 'a full cycle after the restart');
        } finally {
          ctx.readerStats.push(await readers.stop());
        }
        ctx.notes.push(`private redis-server: FLUSHALL after a cycle, one full cycle, then SIGKILL, ${z.downMs / 1000} s down, restart, one full cycle`);
      },
    );
  } finally {
    await redis.stop();
  }
}

/** 4. Postgres: the private cluster stopped mid-run, started again; no process may crash. */
export async function postgresScenario(s: ChaosSizes) {
  const z = s.postgres;
  const postgres = await startOwnPostgres();
  try {
    return await scenario(
      `4 Postgres down ${z.outageMs / 1000} s`,
      { workers: z.workers, apis: z.apis, connections: z.connections, pgAdminUrl: postgres.adminUrl, simEnv: { SIM_ACCESS_TOKEN_TTL: '10' } },
      async (ctx) => {
        const readers = startReaders(ctx.stack, ctx.ids, { concurrency: 2, forceEvery: 20, seenTokens: ctx.secrets.accessTokens });
        try {
          await waitRefreshes(ctx.stack, 0, z.connections, 'a first refresh cycle');
          await postgres.stop();
          await sleep(z.outageMs);
          await postgres.start();
          await waitFullCycle(ctx.stack, 'a full cycle after the restart');
        } finally {
          ctx.readerStats.push(await readers.stop());
        }
        ctx.facts.exitCodes = [...ctx.stack.apis, ...ctx.stack.workers].map((p) => p.child.exitCode);
        ctx.notes.push(`private Postgres cluster stopped (immediate) for ${z.outageMs / 1000} s under token reads, then started; exit codes ${JSON.stringify(ctx.facts.exitCodes)}`);
      },
    );
  } finally {
    await postgres.destroy();
  }
}

/** 5. Lever: 503/timeout/429 storms, answers slower than the lock TTL, grants revoked at random. */
export function leverScenario(s: ChaosSizes) {
  const z = s.lever;
  return scenario(
    `5 Lever storms, slow Lever, ${z.revoke} revocations`,
    {
      workers: z.workers,
      apis: 2,
      connections: z.connections,
      simEnv: { SIM_ACCESS_TOKEN_TTL: '12' },
      env: { REFRESH_FAILING_AFTER_SECONDS: '4', LEVER_HTTP_TIMEOUT_MS: '2500', REFRESH_LOCK_TTL_MS: '600' },
    },
    async (ctx) => {
      const { stack } = ctx;
      const readers = startReaders(stack, ctx.ids, { concurrency: 3, forceEvery: 5, seenTokens: ctx.secrets.accessTokens });
      try {
        await stack.simPost('/__sim/faults', { target: 'token', kind: '503', count: z.storm });
        await stack.simPost('/__sim/faults', { target: 'token', kind: 'timeout', count: Math.ceil(z.storm / 2), delayMs: 4000 });
        await stack.simPost('/__sim/faults', { target: 'token', kind: '429', count: z.storm });
        const injected = z.storm * 2 + Math.ceil(z.storm / 2);
        await waitFor('the storm to pass', async () => (await stack.simStats()).faultsInjected! >= injected, { timeoutMs: 180_000, intervalMs: 500 });
        // Lever slower (1.2 s) than the lock TTL (600 ms): the holder must extend its lock, nobody else may start.
        await stack.simPost('/__sim/config', { latencyMs: 1200 });
        await sleep(z.slowMs);
        await stack.simPost('/__sim/config', { latencyMs: 0 });
        // A clean cycle clears every "ambiguous" flag the timeouts left, so a revocation reads as invalid_grant.
        await waitFullCycle(stack, 'a clean cycle after the storm');
        const grants = (await simGrants(stack)).filter((g) => g.status === 'active');
        const victims = grants.sort(() => Math.random() - 0.5).slice(0, z.revoke);
        for (const g of victims) {
          await stack.simPost(`/__sim/grants/${g.id}/revoke`);
          ctx.expectedReauthAccounts.add(g.account);
        }
        await waitFor(
          'the revoked connections to be flagged',
          async () => (await stack.db.db.prisma.connection.count({ where: { status: 'needs_reauth' } })) >= victims.length,
          { timeoutMs: 60_000, intervalMs: 500 },
        );
      } finally {
        ctx.readerStats.push(await readers.stop());
      }
      const reasons = await stack.db.db.prisma.connection.groupBy({ by: ['reauthReason'], where: { status: 'needs_reauth' }, _count: { _all: true } });
      ctx.facts.revoked = z.revoke;
      ctx.facts.reauthReasons = Object.fromEntries(reasons.map((r) => [r.reauthReason ?? 'null', r._count._all]));
      ctx.notes.push(
        `${z.storm} × 503, ${Math.ceil(z.storm / 2)} × timeout (4 s, client timeout 2.5 s), ${z.storm} × 429; then ${z.slowMs / 1000} s of 1.2 s ` +
          `latency with REFRESH_LOCK_TTL_MS=600; then ${z.revoke} grants revoked at the simulator → needs_reauth ${JSON.stringify(ctx.facts.reauthReasons)}`,
      );
    },
  );
}

/**
 * 6. Clock: the simulator's clock moves in steps shorter than 90 days, with a refresh cycle after each, to
 * past one year. The service decides "expiring" from its own wall clock against grantCreatedAt, so each step
 * also moves every grantCreatedAt back by the same amount (modelling the elapsed time on our side).
 */
export function clockScenario(s: ChaosSizes) {
  const z = s.clock;
  return scenario(
    '6 clock: 80-day steps to 355 days, then past one year',
    { workers: z.workers, connections: z.connections, simEnv: { SIM_ACCESS_TOKEN_TTL: String(z.ttlSeconds) }, env: { EXPIRING_NOTICE_DAYS: '14' } },
    async (ctx) => {
      const { stack } = ctx;
      const prisma = stack.db.db.prisma;
      const step = async (days: number) => {
        await stack.simPost('/__sim/clock', { advanceSeconds: days * DAY });
        await prisma.$executeRaw`UPDATE "connections" SET "grantCreatedAt" = "grantCreatedAt" - make_interval(days => ${days}::int)`;
        await waitFullCycle(stack, `a refresh cycle after +${days} days`);
      };
      await waitRefreshes(stack, 0, z.connections, 'a first refresh cycle');
      let elapsed = 0;
      for (const days of [80, 80, 80, 80]) {
        await step(days);
        elapsed += days;
      }
      // Wait for a second cycle so every token the api hands out was issued after the last step.
      await waitFullCycle(stack, 'one more cycle');
      const alive = await census(stack);
      const stats = await stack.simStats();
      ctx.facts.aliveAt320 = { active: alive.active, accepted: alive.accepted, grantsRevoked: stats.grantsRevoked, liveGrants: stats.liveGrants };
      await step(35);
      elapsed += 35; // 355 days: inside EXPIRING_NOTICE_DAYS of the year's end
      await waitFor(
        'connection.expiring for every connection',
        async () => (await prisma.event.count({ where: { type: 'connection.expiring' } })) >= z.connections,
        { timeoutMs: 30_000, intervalMs: 500 },
      ).catch(() => undefined);
      await stack.simPost('/__sim/clock', { advanceSeconds: 11 * DAY });
      await prisma.$executeRaw`UPDATE "connections" SET "grantCreatedAt" = "grantCreatedAt" - make_interval(days => 11)`;
      elapsed += 11;
      await waitFor(
        'every grant to end after one year',
        async () => (await prisma.connection.count({ where: { status: 'needs_reauth' } })) >= z.connections,
        { timeoutMs: 60_000, intervalMs: 500 },
      );
      ctx.allReauthExpected = true;
      const events = await prisma.event.findMany({
        where: { type: { in: ['connection.expiring', 'connection.needs_reauth'] } },
        select: { type: true, connectionId: true, seq: true },
      });
      let expiringFirst = 0;
      for (const id of ctx.ids) {
        const expiring = events.find((e) => e.type === 'connection.expiring' && e.connectionId === id);
        const reauth = events.find((e) => e.type === 'connection.needs_reauth' && e.connectionId === id);
        if (expiring && reauth && expiring.seq < reauth.seq) expiringFirst++;
      }
      ctx.facts.expiringFirst = expiringFirst;
      ctx.facts.elapsedDays = elapsed;
      ctx.notes.push(
        `sim clock +80 d ×4 (a refresh cycle after each; at 320 d: ${JSON.stringify(ctx.facts.aliveAt320)}), +35 d (355 d: ` +
          `connection.expiring, notice 14 d), +11 d (366 d): Lever refuses → needs_reauth invalid_grant; expiring came first for ` +
          `${expiringFirst}/${z.connections}; grantCreatedAt moved back in step with the sim clock`,
      );
    },
  );
}

/** 7. Lost responses: `timeout_after_rotation` (Lever rotated, the answer never arrived). */
export function lostResponseScenario(s: ChaosSizes, leewaySeconds: number) {
  const z = s.lost;
  const faults = leewaySeconds ? z.faults : z.faultsLeewayZero;
  return scenario(
    `7${leewaySeconds ? 'a' : 'b'} ${faults} lost responses, reuse leeway ${leewaySeconds} s`,
    {
      workers: z.workers,
      connections: z.connections,
      simEnv: { SIM_ACCESS_TOKEN_TTL: '10', SIM_REUSE_LEEWAY_SECONDS: String(leewaySeconds) },
      env: { LEVER_HTTP_TIMEOUT_MS: '3000' },
    },
    async (ctx) => {
      const { stack } = ctx;
      const readers = startReaders(stack, ctx.ids, { concurrency: 2, forceEvery: 10, seenTokens: ctx.secrets.accessTokens });
      try {
        await waitRefreshes(stack, 0, z.connections, 'a first refresh cycle');
        // One lost answer per connection: a second fault on the same connection would also drop the leeway
        // replay (each rotated token may be replayed once), which tests the simulator, not us.
        const prefix = ctx.ids.length ? (leewaySeconds ? '7a' : '7b') : '';
        for (let i = 0; i < faults; i++) {
          await stack.simPost('/__sim/faults', { target: 'token', kind: 'timeout_after_rotation', count: 1, matchAccount: `acct_${prefix}-${i}` });
        }
        await waitFor('the faults to fire', async () => (await stack.simStats()).faultsInjected! >= faults, { timeoutMs: 60_000, intervalMs: 250 });
        await waitFullCycle(stack, 'a full cycle after the faults');
      } finally {
        ctx.readerStats.push(await readers.stop());
      }
      ctx.facts.faults = faults;
      ctx.notes.push(`${faults} refresh answers dropped after Lever rotated (timeout_after_rotation), client timeout 3 s`);
    },
  );
}

/**
 * 8. Deployment fence and kill switch: workers and an api of a second deployment on a copy of the database
 * (pg_dump | psql) call Lever for nothing; REFRESH_ENABLED=false processes on the real database neither.
 */
export function fenceScenario(s: ChaosSizes) {
  const z = s.fence;
  return scenario(
    '8 deployment fence + kill switch',
    { workers: z.workers, connections: z.connections, simEnv: { SIM_ACCESS_TOKEN_TTL: '10' } },
    async (ctx) => {
      const { stack } = ctx;
      await waitRefreshes(stack, 0, z.connections, 'a first refresh cycle');
      // The live deployment pauses (graceful stop) so every simulator token request below is the clone's.
      for (const w of stack.workers.splice(0)) {
        await w.stop('SIGTERM');
        ctx.killedOnPurpose.add(w);
      }
      const cloneName = `${stack.db.name}_clone`;
      const admin = new URL(stack.db.url);
      admin.pathname = '/postgres';
      const cloneUrl = new URL(stack.db.url);
      cloneUrl.pathname = `/${cloneName}`;
      const client = new pg.Client({ connectionString: admin.toString() });
      await client.connect();
      await client.query(`CREATE DATABASE "${cloneName}"`);
      await client.end();
      await run('bash', ['-o', 'pipefail', '-c', `pg_dump --no-owner "$SRC" | psql -q -v ON_ERROR_STOP=1 "$DST" >/dev/null`], {
        env: { ...process.env, SRC: stack.db.url, DST: cloneUrl.toString() },
        maxBuffer: 1 << 28,
      });
      const extra: ManagedProcess[] = [];
      const start = async (name: 'api' | 'worker', env: Record<string, string>) => {
        const p = await startApp({ name, entry: APP_ENTRIES[name], port: await freePort(), env });
        extra.push(p);
        ctx.logs.add(p.logFile);
        return p;
      };
      const watch = async (env: Record<string, string>) => {
        const before = (await stack.simStats()).tokenRequests!;
        const api = await start('api', env);
        for (let i = 0; i < z.workers; i++) await start('worker', env);
        const statuses: Record<number, number> = {};
        const deadline = Date.now() + z.watchMs;
        while (Date.now() < deadline) {
          const id = ctx.ids[Math.floor(Math.random() * ctx.ids.length)]!;
          const res = await fetch(`${api.url}/v1/connections/${id}/access-token?forceRefresh=true`, { headers: { authorization: `Bearer ${stack.adminKey}` } });
          statuses[res.status] = (statuses[res.status] ?? 0) + 1;
          await res.body?.cancel();
          await sleep(200);
        }
        const after = (await stack.simStats()).tokenRequests!;
        for (const p of extra.splice(0)) {
          await p.stop('SIGTERM');
        }
        return { tokenRequests: after - before, statuses };
      };
      const cloneEnv = {
        ...stack.env,
        DATABASE_URL: cloneUrl.toString(),
        REDIS_PREFIX: `${stack.redisPrefix}_clone`,
        DEPLOYMENT_ID: 'staging-clone',
      };
      ctx.facts.clone = await watch(cloneEnv);
      ctx.facts.killSwitch = await watch({ ...stack.env, REFRESH_ENABLED: 'false' });
      // Let the clone's Redis keys and database go.
      const drop = new pg.Client({ connectionString: admin.toString() });
      await drop.connect();
      await drop.query(`DROP DATABASE IF EXISTS "${cloneName}" WITH (FORCE)`);
      await drop.end();
      await deleteRedisPrefix(`${stack.redisPrefix}_clone`, stack.env.REDIS_URL);
      // The live deployment resumes: every grant is still good.
      for (let i = 0; i < z.workers; i++) ctx.logs.add((await stack.startWorker()).logFile);
      await waitFullCycle(stack, 'the live deployment to refresh every connection again');
      ctx.notes.push(
        `live workers stopped; clone (pg_dump | psql, DEPLOYMENT_ID=staging-clone, own Redis prefix): 1 api + ${z.workers} workers for ` +
          `${z.watchMs / 1000} s with forced token reads → ${JSON.stringify(ctx.facts.clone)} simulator token requests/statuses; ` +
          `REFRESH_ENABLED=false api + workers on the live database → ${JSON.stringify(ctx.facts.killSwitch)}; live workers restarted`,
      );
    },
  );
}

