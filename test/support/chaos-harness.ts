import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { APP_ENTRIES, ROOT, startApp, waitFor, type ManagedProcess } from '@lever-connect/testing';
import { Redis } from 'ioredis';
import { createTokenCipher } from '../../packages/crypto/src/index.js';
import { DEFAULT_EVENT_TYPES } from '../../packages/webhooks/src/subscriptions.js';
import { census, forcedRefreshCensus, latestGrants, simGrants, type ConnectionCensus, type ForcedRefreshCensus, type SimGrant, type SimRotation } from './checks.js';
import { tcpPortsTo } from './process-sockets.js';
import type { Stack } from './stack.js';

const run = promisify(execFile);
export const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'chaos');

// ---------------------------------------------------------------------------------------------------------
// Webhook receiver: the operator's endpoint, a plain node:http server on 127.0.0.1.
// ---------------------------------------------------------------------------------------------------------

export interface ReceivedWebhook {
  id: string;
  type: string;
  connectionId?: string;
}

export interface WebhookReceiver {
  url: string;
  /** De-duplicated on `webhook-id`, as a receiver must. */
  received: Map<string, ReceivedWebhook>;
  deliveries: number;
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received = new Map<string, ReceivedWebhook>();
  const state = { deliveries: 0 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      state.deliveries++;
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          id: string;
          type: string;
          data?: { connection?: { id?: string } };
        };
        received.set(body.id, { id: body.id, type: body.type, connectionId: body.data?.connection?.id });
      } catch {
        // a malformed delivery is counted as a delivery but recorded nowhere: the "missing" check catches it
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}/hooks`,
    received,
    get deliveries() {
      return state.deliveries;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Registers the receiver for the default event set (everything but connection.refreshed). */
export async function registerWebhook(stack: Stack, url: string): Promise<{ id: string; secret: string }> {
  const res = await fetch(`${stack.api.url}/v1/webhook-endpoints`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ url, description: 'chaos receiver' }),
  });
  if (res.status !== 201) throw new Error(`webhook endpoint: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { id?: string; secret: string; endpoint?: { id: string } };
  return { id: body.id ?? body.endpoint!.id, secret: body.secret };
}

// ---------------------------------------------------------------------------------------------------------
// Token readers: the operator's services asking for tokens, through whichever api process is alive.
// ---------------------------------------------------------------------------------------------------------

export interface ReaderStats {
  reads: number;
  statuses: Record<number, number>;
  /** Reads that got no answer at all (status 0): which api was asked, and when (ms since the epoch). */
  unanswered: UnansweredRead[];
}

export interface UnansweredRead {
  api: string;
  startedAt: number;
  endedAt: number;
}

export interface Readers {
  stats: ReaderStats;
  stop(): Promise<ReaderStats>;
}

/**
 * Reads access tokens for random connections from `concurrency` loops until stopped; every token seen is
 * added to `seenTokens` (for the secrets scan). Status 0 = no answer: not a 5xx, but a failure unless the
 * api asked was killed meanwhile (`unexplainedUnanswered`).
 */
export function startReaders(
  stack: Stack,
  ids: string[],
  options: { concurrency: number; forceEvery?: number; pauseMs?: number; seenTokens?: Set<string> },
): Readers {
  const stats: ReaderStats = { reads: 0, statuses: {}, unanswered: [] };
  let stopped = false;
  const auth = { authorization: `Bearer ${stack.adminKey}` };
  const loop = async () => {
    while (!stopped) {
      const id = ids[Math.floor(Math.random() * ids.length)]!;
      const live = stack.apis.filter((a) => a.child.exitCode === null && a.child.signalCode === null);
      const api = live[Math.floor(Math.random() * live.length)];
      if (!api) {
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      const force = options.forceEvery && stats.reads % options.forceEvery === 0 ? '?forceRefresh=true' : '';
      const startedAt = Date.now();
      const res = await fetch(`${api.url}/v1/connections/${id}/access-token${force}`, {
        headers: auth,
        signal: AbortSignal.timeout(40_000),
      }).catch(() => undefined);
      stats.reads++;
      const status = res?.status ?? 0;
      stats.statuses[status] = (stats.statuses[status] ?? 0) + 1;
      if (!res) stats.unanswered.push({ api: api.url, startedAt, endedAt: Date.now() });
      if (res?.status === 200) {
        const body = (await res.json().catch(() => undefined)) as { accessToken?: string } | undefined;
        if (body?.accessToken && options.seenTokens && options.seenTokens.size < 5000) options.seenTokens.add(body.accessToken);
      } else {
        await res?.body?.cancel();
      }
      await new Promise((r) => setTimeout(r, options.pauseMs ?? 25));
    }
  };
  const loops = Promise.all(Array.from({ length: options.concurrency }, loop));
  return {
    stats,
    async stop() {
      stopped = true;
      await loops;
      return stats;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Processes: kill and restart on the same port (so `stack.api`, the callback host, stays valid).
// ---------------------------------------------------------------------------------------------------------

/** Every log file a stack's processes wrote, including processes since replaced. */
export function trackLogs(stack: Stack): Set<string> {
  const files = new Set<string>([stack.sim.logFile]);
  for (const p of [...stack.apis, ...stack.workers]) files.add(p.logFile);
  return files;
}

export async function restartOnSamePort(stack: Stack, victim: ManagedProcess, env: Record<string, string> = stack.env): Promise<ManagedProcess> {
  const port = Number(new URL(victim.url).port);
  const fresh = await startApp({ name: victim.name, entry: APP_ENTRIES[victim.name as 'api' | 'worker'], port, env, timeoutMs: 60_000 });
  const list = victim.name === 'api' ? stack.apis : stack.workers;
  const at = list.indexOf(victim);
  if (at >= 0) list[at] = fresh;
  else list.push(fresh);
  if (stack.api === victim) stack.api = fresh;
  return fresh;
}

/** One SIGKILL: which process, when, and its connections to the simulator at that moment. */
export interface KillRecord {
  kind: 'api' | 'worker';
  url: string;
  pid: number;
  /** ms since the epoch: SIGSTOP (the process freezes), SIGKILL, and its replacement answering. */
  stoppedAt: number;
  killedAt: number;
  upAt?: number;
  /** Its local ports of TCP connections to the simulator, read while it was frozen (process-sockets.ts). */
  simPorts: number[];
}

export interface Killer {
  kills: { api: number; worker: number };
  log: KillRecord[];
  stop(): Promise<void>;
}

/**
 * Freezes the process (SIGSTOP: it opens no new connection), notes its connections to the simulator, then
 * SIGKILLs it. The simulator's rotations on those connections that never reached it are the ones in flight at
 * Lever for this process.
 */
export async function killNoting(victim: ManagedProcess, simPort: number): Promise<KillRecord> {
  const pid = victim.child.pid!;
  const stoppedAt = Date.now();
  let simPorts: number[] = [];
  try {
    process.kill(pid, 'SIGSTOP');
    simPorts = tcpPortsTo(pid, simPort);
    process.kill(pid, 'SIGKILL');
  } catch {
    // it exited on its own meanwhile: the crash check reports it
  }
  const killedAt = Date.now();
  await victim.stop('SIGKILL');
  return { kind: victim.name as 'api' | 'worker', url: victim.url, pid, stoppedAt, killedAt, simPorts };
}

/**
 * SIGKILLs an api and a worker in turn (a random one of each kind) every `everyMs` (± half), then restarts
 * it, until stopped: both kinds die in every run, however short. `workersOnly`: workers only (the depth
 * sweep measures what a worker's in-flight refreshes cost when it dies).
 */
export function startKiller(stack: Stack, logs: Set<string>, options: { everyMs: number; workersOnly?: boolean }): Killer {
  const kills = { api: 0, worker: 0 };
  const log: KillRecord[] = [];
  const simPort = Number(new URL(stack.sim.url).port);
  let stopped = false;
  let wake: () => void = () => undefined;
  const loop = (async () => {
    while (!stopped) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, options.everyMs / 2 + Math.random() * options.everyMs);
      });
      if (stopped) break;
      const kind = options.workersOnly || (kills.api + kills.worker) % 2 === 0 ? stack.workers : stack.apis.length ? stack.apis : stack.workers;
      const victim = kind[Math.floor(Math.random() * kind.length)]!;
      const record = await killNoting(victim, simPort);
      log.push(record);
      kills[record.kind]++;
      const fresh = await restartOnSamePort(stack, victim);
      record.upAt = Date.now();
      logs.add(fresh.logFile);
    }
  })();
  return {
    kills,
    log,
    async stop() {
      stopped = true;
      wake();
      await loop;
    },
  };
}

/**
 * Reads that got no answer and no kill explains: an answer may go missing only from an api process that was
 * killed while the read was under way, or asked between its kill and its replacement answering.
 */
export function unexplainedUnanswered(readers: ReaderStats[], kills: KillRecord[]): UnansweredRead[] {
  const slackMs = 50;
  return readers
    .flatMap((r) => r.unanswered)
    .filter(
      (u) =>
        !kills.some(
          (k) => k.kind === 'api' && k.url === u.api && u.startedAt <= (k.upAt ?? Number.POSITIVE_INFINITY) + slackMs && u.endedAt >= k.stoppedAt - slackMs,
        ),
    );
}

/** Per kill: rotations in flight at Lever for the killed process, and the grants that were lost with them. */
export interface KillFigure {
  kind: 'api' | 'worker';
  /** Seconds since the scenario started. */
  atS: number;
  /** Its connections to the simulator when it was frozen. */
  simSockets: number;
  /**
   * Rotations Lever made for the process that it had not stored when it died: answers it never read, and
   * answers delivered to it shortly before (or while) it was frozen (`unstored`, a part of inFlight).
   */
  inFlight: number;
  unstored: number;
  lost: number;
}

/**
 * How long before its freeze a killed process may have had an answer delivered and not yet stored (parse,
 * decrypt-and-encrypt, the fenced write's round trip, on a loaded 2-core machine). Lever's answer sits in
 * the socket or the process's memory, not in Postgres: at reuse leeway 0 that grant dies with the process.
 * The same span after the kill: the simulator may write an answer into a dead process's socket before it
 * reads that socket's FIN (a turn of its event loop runs timers, such as its injected latency, before it
 * reads sockets; on a loaded box that turn can come well after the kill), and a write the kernel took counts
 * as delivered. Seen once in the depth sweep: written more than 50 ms after the kill (the old bound), 0.8 s
 * before the killed worker's replacement logged its start. A delivered rotation lost outside this window (or
 * at no kill) stays our failure.
 */
export const UNSTORED_WINDOW_MS = 1_000;

/** A connection marked refresh_response_lost, with the simulator's record of its grant's last rotation. */
export interface LostConnection {
  id: string;
  account: string;
  lastRotation: SimRotation | null;
}

/**
 * Maps undelivered rotations to kills: a rotation was in flight for a killed process when it went over one of
 * the process's connections to the simulator (client port) and was settled undelivered around the kill. A lost
 * grant belongs to the kill its last (undelivered) rotation belongs to; `lostAtNoKill` are the lost grants
 * whose undelivered rotation no kill explains.
 */
export function attributeKills(
  kills: KillRecord[],
  grants: SimGrant[],
  lost: LostConnection[],
  options: { startedAt: number; simOffsetMs: number },
): { perKill: KillFigure[]; lostAtNoKill: string[]; lostAtKill: Set<string> } {
  const settledAt = (r: SimRotation) => Date.parse(r.settledAt ?? r.at) - options.simOffsetMs;
  const killOf = (r: SimRotation) => {
    if (r.clientPort === null) return -1;
    const t = settledAt(r);
    return r.delivered === false
      ? kills.findIndex((k) => k.simPorts.includes(r.clientPort!) && t >= k.stoppedAt - 1_000 && t <= k.killedAt + 10_000)
      : // Delivered into the socket of a process frozen moments later (or already frozen: the kernel still takes the bytes).
        kills.findIndex((k) => k.simPorts.includes(r.clientPort!) && t >= k.stoppedAt - UNSTORED_WINDOW_MS && t <= k.killedAt + UNSTORED_WINDOW_MS);
  };
  /** For a loss no kill explains: the kill closest in time, so a failure says how near it came. */
  const nearestKill = (r: SimRotation | null) => {
    if (!r || kills.length === 0) return '';
    const t = settledAt(r);
    const k = kills.reduce((a, b) => (Math.abs(b.killedAt - t) < Math.abs(a.killedAt - t) ? b : a));
    const port = r.clientPort !== null && k.simPorts.includes(r.clientPort) ? 'among' : 'not among';
    return `; nearest kill: ${k.kind} pid ${k.pid} frozen ${t - k.stoppedAt} ms and killed ${t - k.killedAt} ms before this answer settled, its port ${port} that process's ${k.simPorts.length} sockets to the simulator`;
  };
  const perKill: KillFigure[] = kills.map((k) => ({ kind: k.kind, atS: Math.round((k.stoppedAt - options.startedAt) / 100) / 10, simSockets: k.simPorts.length, inFlight: 0, unstored: 0, lost: 0 }));
  for (const g of grants) {
    for (const r of g.undeliveredRotations) {
      const at = killOf(r);
      if (at >= 0) perKill[at]!.inFlight++;
    }
  }
  const lostAtNoKill: string[] = [];
  const lostAtKill = new Set<string>();
  for (const l of lost) {
    const at = l.lastRotation ? killOf(l.lastRotation) : -1;
    if (at >= 0) {
      perKill[at]!.lost++;
      lostAtKill.add(l.id);
      // Its answer was delivered, moments before the freeze, and never stored: in flight in that process too.
      if (l.lastRotation!.delivered) {
        perKill[at]!.inFlight++;
        perKill[at]!.unstored++;
      }
    } else lostAtNoKill.push(`${l.id} (${l.account}): last rotation ${JSON.stringify(l.lastRotation)}${nearestKill(l.lastRotation)}`);
  }
  return { perKill, lostAtNoKill, lostAtKill };
}

// ---------------------------------------------------------------------------------------------------------
// Secrets: collect what must never appear in plain text, then grep the database dump and the logs for it.
// ---------------------------------------------------------------------------------------------------------

export interface SecretSet {
  accessTokens: Set<string>;
  refreshTokens: Set<string>;
  codes: Set<string>;
  /** What (a name) → the secret's value. */
  other: Map<string, string>;
}

export function newSecretSet(stack: Stack): SecretSet {
  const other = new Map<string, string>([
    ['client secret', 'lever-connect-dev-secret'],
    ['admin API key', stack.adminKey],
    ['token encryption key', stack.env.TOKEN_ENCRYPTION_KEY!],
  ]);
  return { accessTokens: new Set(), refreshTokens: new Set(), codes: new Set(), other };
}

/**
 * Every access token, refresh token and authorization code the simulator ever issued in this run: the scan
 * then looks for all of them, including refresh tokens rotated away between two looks at the database.
 */
export async function collectSimSecrets(stack: Stack, secrets: SecretSet): Promise<void> {
  const res = await fetch(`${stack.sim.url}/__sim/secrets`);
  const issued = (await res.json()) as { accessTokens: string[]; refreshTokens: string[]; codes: string[] };
  if (Number(res.headers.get('x-sim-secrets-dropped') ?? 0) > 0) throw new Error('the simulator dropped issued secrets: raise SIM_SECRETS_LIMIT for this run');
  for (const t of issued.accessTokens) secrets.accessTokens.add(t);
  for (const t of issued.refreshTokens) secrets.refreshTokens.add(t);
  for (const c of issued.codes) secrets.codes.add(c);
}

/** Decrypts every connection's tokens with the run's key (what the database holds right now). */
export async function collectDbTokens(stack: Stack, secrets: SecretSet): Promise<void> {
  const cipher = createTokenCipher({ currentKey: Buffer.from(stack.env.TOKEN_ENCRYPTION_KEY!, 'base64') });
  const rows = await stack.db.db.prisma.connection.findMany({
    select: { id: true, accessTokenCiphertext: true, refreshTokenCiphertext: true },
  });
  for (const row of rows) {
    if (row.refreshTokenCiphertext) secrets.refreshTokens.add(cipher.decrypt(row.refreshTokenCiphertext, { row: row.id, column: 'refreshToken' }));
    if (row.accessTokenCiphertext) secrets.accessTokens.add(cipher.decrypt(row.accessTokenCiphertext, { row: row.id, column: 'accessToken' }));
  }
}

export interface SecretLeak {
  kind: string;
  file: string;
}

/**
 * pg_dump of the stack's database + every log file, searched with `grep -F -f` (Aho-Corasick: thousands of
 * tokens against megabytes of logs in well under a second).
 */
/**
 * Every key of the stack's Redis prefix with its value in plain text, one line per key (an RDB file would
 * LZF-compress long strings, hiding a secret from grep): the OAuth states, the response stash, the locks,
 * BullMQ's jobs, the caches' invalidations, the quotas. Returns how many keys it wrote.
 */
export async function dumpRedisPrefix(redisUrl: string, prefix: string, file: string): Promise<number> {
  const redis = new Redis(redisUrl, { lazyConnect: true });
  await redis.connect();
  const lines: string[] = [];
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const type = await redis.type(key);
        const value =
          type === 'string' ? await redis.get(key)
          : type === 'hash' ? await redis.hgetall(key)
          : type === 'list' ? await redis.lrange(key, 0, -1)
          : type === 'set' ? await redis.smembers(key)
          : type === 'zset' ? await redis.zrange(key, 0, -1, 'WITHSCORES')
          : type === 'stream' ? await redis.xrange(key, '-', '+')
          : null; // gone since the scan
        lines.push(`${key}\t${type}\t${JSON.stringify(value)}`);
      }
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  writeFileSync(file, lines.join('\n') + '\n');
  return lines.length;
}

export async function scanForSecrets(
  stack: Stack,
  secrets: SecretSet,
  logFiles: Iterable<string>,
  label: string,
): Promise<{ leaks: SecretLeak[]; scanned: number; secrets: number; redisKeys: number }> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const dumpFile = path.join(ARTIFACTS, `${label}.dump.sql`);
  const { stdout } = await run('pg_dump', ['--no-owner', '--data-only', '--inserts', stack.db.url], { maxBuffer: 1 << 30 });
  writeFileSync(dumpFile, stdout);
  const redisFile = path.join(ARTIFACTS, `${label}.redis.txt`);
  const redisKeys = await dumpRedisPrefix(stack.env.REDIS_URL!, stack.redisPrefix, redisFile);
  const kindOf = new Map<string, string>();
  for (const t of secrets.accessTokens) kindOf.set(t, 'access token');
  for (const t of secrets.refreshTokens) kindOf.set(t, 'refresh token');
  for (const c of secrets.codes) kindOf.set(c, 'authorization code');
  for (const [kind, value] of secrets.other) kindOf.set(value, kind);
  const patternFile = path.join(ARTIFACTS, `${label}.patterns`);
  writeFileSync(patternFile, [...kindOf.keys()].join('\n') + '\n');
  const files = [dumpFile, redisFile, ...logFiles];
  const leaks: SecretLeak[] = [];
  try {
    const { stdout: hits } = await run('grep', ['-F', '-o', '-H', '-f', patternFile, ...files], { maxBuffer: 1 << 28 });
    for (const line of hits.split('\n').filter(Boolean)) {
      const at = line.indexOf(':');
      const file = line.slice(0, at);
      const value = line.slice(at + 1);
      leaks.push({ kind: kindOf.get(value) ?? 'secret', file: path.relative(ROOT, file) });
    }
  } catch (error) {
    if ((error as { code?: number }).code !== 1) throw error; // grep exits 1 when nothing matched
  }
  // Patterns hold live secrets: never leave them on disk.
  writeFileSync(patternFile, '');
  return { leaks, scanned: files.length, secrets: kindOf.size, redisKeys };
}

// ---------------------------------------------------------------------------------------------------------
// The verdict after a scenario.
// ---------------------------------------------------------------------------------------------------------

export { simGrants, type SimGrant } from './checks.js';

export interface Verdict {
  census: ConnectionCensus;
  /** needs_reauth whose grant we revoked (or expired on purpose) with reason invalid_grant. */
  expectedReauth: number;
  /** needs_reauth with reason refresh_response_lost, each with its grant's last rotation at the simulator. */
  lost: LostConnection[];
  /** Of those, the ones whose last rotation reached us (or none is known): our own loss, not Lever's answer. */
  unexplainedLost: string[];
  falseReauth: string[];
  /** Grants revoked by reuse detection that no lost response explains. */
  unexplainedReuse: string[];
  lostTokens: string[];
  /** One forced refresh per active connection: is the stored refresh token Lever's current one? */
  forced: ForcedRefreshCensus;
  /** The simulator's grants as they were before the forced refreshes (rotation records included). */
  grants: SimGrant[];
  /** The simulator's counters before the forced refreshes: the scenario's own figures. */
  simStats: Record<string, number>;
  eventsMissing: string[];
  webhooksReceived: number;
}

/**
 * Checks every connection: active with a token the simulator accepts, or needs_reauth for a reason the
 * scenario caused; each needs_reauth has its event, and every outbox event (default subscription) reached
 * the receiver.
 */
export async function verdict(
  stack: Stack,
  receiver: WebhookReceiver,
  options: { expectedReauthAccounts?: Set<string>; allReauthExpected?: boolean; webhookWaitMs?: number } = {},
): Promise<Verdict> {
  const prisma = stack.db.db.prisma;
  const c = await census(stack);
  const grants = await simGrants(stack);
  const rows = await prisma.connection.findMany({ select: { id: true, leverAccountId: true, status: true, reauthReason: true } });
  const byId = new Map(rows.map((r) => [r.id, r]));
  const revokedByUs = new Set(
    grants.filter((g) => g.status === 'revoked' && (g.revokedReason === 'customer_uninstalled' || g.revokedReason === 'fault_injected')).map((g) => g.account),
  );
  for (const a of options.expectedReauthAccounts ?? []) revokedByUs.add(a);
  const grantOf = latestGrants(grants);
  let expectedReauth = 0;
  const lost: LostConnection[] = [];
  const unexplainedLost: string[] = [];
  const falseReauth: string[] = [];
  const lostAccounts = new Set<string>();
  for (const n of c.needsReauth) {
    const row = byId.get(n.id)!;
    if (n.reason === 'refresh_response_lost') {
      // We may call a grant lost only if Lever's answer with its new refresh token never reached us.
      const lastRotation = grantOf.get(row.leverAccountId)?.lastRotation ?? null;
      lost.push({ id: n.id, account: row.leverAccountId, lastRotation });
      if (lastRotation?.delivered !== false) unexplainedLost.push(`${n.id} (${row.leverAccountId}): last rotation ${JSON.stringify(lastRotation)}`);
      lostAccounts.add(row.leverAccountId);
    } else if (n.reason === 'invalid_grant' && (options.allReauthExpected || revokedByUs.has(row.leverAccountId))) expectedReauth++;
    else falseReauth.push(`${n.id} (${row.leverAccountId}): ${n.reason}`);
  }
  const unexplainedReuse = grants
    .filter((g) => g.revokedReason === 'refresh_token_reuse' && !lostAccounts.has(g.account))
    .map((g) => `${g.id} (${g.account})`);
  const simStats = await stack.simStats();
  const forced = await forcedRefreshCensus(stack);
  // Every needs_reauth has its event; every event of the default subscription reached the receiver.
  const events = await prisma.event.findMany({ select: { id: true, type: true, connectionId: true } });
  const eventsMissing: string[] = [];
  for (const n of c.needsReauth) {
    if (!events.some((e) => e.type === 'connection.needs_reauth' && e.connectionId === n.id)) eventsMissing.push(`no connection.needs_reauth event for ${n.id}`);
  }
  const deliverable = events.filter((e) => (DEFAULT_EVENT_TYPES as readonly string[]).includes(e.type) && e.type !== 'webhook.test');
  const notReceived = () => deliverable.filter((e) => !receiver.received.has(e.id));
  await waitFor('every webhook to be delivered', () => notReceived().length === 0, { timeoutMs: options.webhookWaitMs ?? 60_000, intervalMs: 500 }).catch(
    () => undefined,
  );
  for (const e of notReceived()) eventsMissing.push(`webhook ${e.type} ${e.id} not received`);
  return {
    census: c,
    expectedReauth,
    lost,
    unexplainedLost,
    falseReauth,
    unexplainedReuse,
    lostTokens: c.rejected,
    forced,
    grants,
    simStats,
    eventsMissing,
    webhooksReceived: receiver.received.size,
  };
}

// ---------------------------------------------------------------------------------------------------------
// The table.
// ---------------------------------------------------------------------------------------------------------

export interface ReliabilityRow {
  scenario: string;
  durationS: number;
  refreshesDone: number;
  reuseDetections: number;
  lostTokens: number;
  /** Active connections whose forced refresh at the end did not prove their refresh token Lever's current one. */
  staleRefreshTokens: number;
  responsesLost: number;
  /** refresh_response_lost whose last rotation reached us: our loss, not an undelivered answer. */
  unexplainedLost: number;
  falseReauth: number;
  eventsMissing: number;
  answers5xx: number;
  /** Token-endpoint reads that got no answer (status 0) and no kill of the api asked explains. */
  unansweredReads: number;
  /** Scenarios with SIGKILLs: per kill, the rotations in flight at Lever for that process and the grants lost. */
  kills?: KillFigure[];
  /** What was done and what happened, one line. */
  notes: string;
}

export const ZERO_COLUMNS = [
  'reuseDetections',
  'lostTokens',
  'staleRefreshTokens',
  'unexplainedLost',
  'falseReauth',
  'eventsMissing',
  'answers5xx',
  'unansweredReads',
] as const;

/** 5xx answers of the token endpoint other than 503: a 503 is its documented "retry shortly" (Retry-After). */
export function count5xx(...stats: ReaderStats[]): { hard: number; retryable: number } {
  let hard = 0;
  let retryable = 0;
  for (const s of stats) {
    for (const [status, n] of Object.entries(s.statuses)) {
      if (Number(status) === 503) retryable += n;
      else if (Number(status) >= 500) hard += n;
    }
  }
  return { hard, retryable };
}

const COLUMNS: Array<[string, (r: ReliabilityRow) => string | number]> = [
  ['scenario', (r) => r.scenario],
  ['duration', (r) => `${r.durationS} s`],
  ['refreshes done', (r) => r.refreshesDone],
  ['reuse detections', (r) => r.reuseDetections],
  ['lost tokens', (r) => r.lostTokens],
  ['stale refresh tokens', (r) => r.staleRefreshTokens],
  ['responses lost (answer never stored)', (r) => r.responsesLost],
  ['unexplained lost', (r) => r.unexplainedLost],
  ['false needs_reauth', (r) => r.falseReauth],
  ['events missing', (r) => r.eventsMissing],
  ['5xx answers', (r) => r.answers5xx],
  ['unanswered reads', (r) => r.unansweredReads],
];

export function renderTable(rows: ReliabilityRow[]): string {
  const head = `| ${COLUMNS.map(([name]) => name).join(' | ')} |`;
  const sep = `|---|${COLUMNS.slice(1).map(() => '---:').join('|')}|`;
  const body = rows.map((r) => `| ${COLUMNS.map(([, value]) => value(r)).join(' | ')} |`);
  return [head, sep, ...body].join('\n');
}

/** Totals of a kill scenario's per-kill figures. */
export function killTotals(kills: KillFigure[]) {
  return {
    kills: kills.length,
    inFlight: kills.reduce((n, k) => n + k.inFlight, 0),
    lost: kills.reduce((n, k) => n + k.lost, 0),
    killsWithLoss: kills.filter((k) => k.lost > 0).length,
  };
}

/** The kill section, from the rows' own per-kill figures: the text cannot disagree with the table. */
export function renderKills(rows: ReliabilityRow[]): string {
  const lines = rows
    .filter((r) => r.kills)
    .map((r) => {
      const t = killTotals(r.kills!);
      const perKill = r.kills!.map((k) => `${k.kind}@${k.atS}s ${k.inFlight}${k.unstored ? ` (${k.unstored} unstored)` : ''}/${k.lost}`).join(', ');
      const unstored = r.kills!.reduce((n, k) => n + k.unstored, 0);
      const sockets = r.kills!.reduce((n, k) => n + k.simSockets, 0);
      return (
        `- **${r.scenario}**: ${t.kills} kills (${sockets} connections to the simulator noted in all), ${t.inFlight} rotations in flight at Lever for the killed processes ` +
        `(${unstored} of them answered and delivered to the process less than ${UNSTORED_WINDOW_MS / 1000} s before its freeze or after its death, not stored), ` +
        `${t.lost} grants lost with them (${(t.lost / Math.max(1, t.kills)).toFixed(2)} per kill; ${r.responsesLost} refresh_response_lost in all, ` +
        `${r.refreshesDone} refreshes done). Per kill (in flight/lost): ${perKill || 'none'}.`
      );
    });
  return lines.length ? lines.join('\n') : '- no scenario killed a process.';
}

export function renderReport(rows: ReliabilityRow[], size: string, startedAt: Date, commit: string): string {
  const notes = rows.map((r) => `- **${r.scenario}**: ${r.notes}`).join('\n');
  return `# Reliability run (${size})

Generated by \`${size === 'full' ? 'pnpm test:chaos' : 'pnpm test (e2e project, smoke sizes)'}\` on ${startedAt.toISOString()}, commit ${commit}.
Real processes: the Lever simulator, api and worker processes (tsx, from sources), Postgres and Redis.
Everything above the kept notes is written by the suite from one set of figures per scenario; the kept notes
carry no figures of a run.

${renderTable(rows)}

Columns (every one but *refreshes done* and *responses lost* must be 0): *refreshes done* = refreshes the
simulator answered with new tokens; *reuse detections* = grants the simulator revoked for refresh-token reuse
that no lost answer explains; *lost tokens* = active connections whose access token the simulator refused at
the end (census); *stale refresh tokens* = active connections whose one forced refresh at the end (simulator
reuse leeway set to 0, so a stale token cannot be replayed) did not rotate their grant, or caused a reuse
detection: their stored refresh token was not Lever's current one; *responses lost (answer never stored)* =
connections in \`needs_reauth\` with reason \`refresh_response_lost\` (only leeway-0 variants may have them);
*unexplained lost* = those of them whose grant's last rotation the simulator saw reach the client (answer
written and read — see apps/lever-sim "Rotations that reached the client"), unless it reached a process
SIGKILLed moments later (delivered less than ${UNSTORED_WINDOW_MS / 1000} s before its freeze, or while frozen:
the answer was in its socket or memory, not yet in Postgres), or written into its socket less than
${UNSTORED_WINDOW_MS / 1000} s after its death, before the simulator read the FIN: our loss, not Lever's answer or the kill's;
*false needs_reauth* = \`needs_reauth\` not caused by a revocation or expiry the scenario made; *events missing*
= needs_reauth without its \`connection.needs_reauth\` event, plus outbox events (default subscription) the
webhook receiver never got; *5xx answers* = token-endpoint answers >= 500 other than 503 (503 + Retry-After
is the documented "being refreshed / Lever unavailable, retry" answer, counted in the notes); *unanswered
reads* = token-endpoint reads with no answer at all (status 0) other than those to an api process killed while
the read was under way.

## What each scenario did
${notes}

## Grants lost at kills
Per SIGKILL: the rotations in flight at Lever for the killed process (rotations the simulator made over that
process's connections whose answer never reached it — read from /proc while the process was frozen, matched by
client port) and the grants lost with them (\`refresh_response_lost\` whose last rotation is one of those).
Lost ≤ in flight for every kill is asserted.
${renderKills(rows)}
`;
}

/** Hand-written notes below this marker survive a re-run (findings, explanations). */
export const NOTES_MARKER = '<!-- notes: kept across runs -->';

export function writeReport(file: string, content: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const previous = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const at = previous.indexOf(NOTES_MARKER);
  writeFileSync(file, at >= 0 ? `${content}\n${previous.slice(at)}` : content);
}
