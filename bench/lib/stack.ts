import { randomUUID } from 'node:crypto';
import { createCore, type Core } from '@lever-connect/connections';
import { startTestStack, type TestDatabase } from '@lever-connect/testing';
import { loadConfig, type Config } from '../../packages/config/src/index.js';
import { procCpu } from './cpu.js';
import { pino, type Logger } from './deps.js';

/** The simulator (a child process: on 2 cores it then gets a core of its own, as Lever would) and a fresh database. */
export interface BenchStack {
  simUrl: string;
  simKind: 'child process';
  /** The simulator's pid, to read its CPU time from /proc. */
  simPid: number;
  db: TestDatabase;
  /**
   * A core over this stack's database and a private prefix on the shared Redis (or the `REDIS_URL` given),
   * logging to `logger` (default: silent, or BENCH_LOG_LEVEL).
   */
  core(env?: Record<string, string>, options?: { logger?: Logger }): Promise<{ core: Core; config: Readonly<Config> }>;
  /** LOG_LEVEL and LOG_FORMAT as a deployment that sets neither runs them (the config's defaults). */
  defaultLogging(): Pick<Config, 'logLevel' | 'logFormat'>;
  close(): Promise<void>;
}

export const PRODUCTION_AUDIENCE = 'https://api.lever.co/v1/';
const SIM_CLIENT = { id: 'lever-connect-dev', secret: 'lever-connect-dev-secret' };
const SIM_REDIRECT = 'http://127.0.0.1:9/oauth/callback';
const SCOPES = 'opportunities:read:admin users:read:admin offline_access';

export async function startBenchStack(): Promise<BenchStack> {
  const stack = await startTestStack({ simName: 'bench-lever-sim', env: { LOG_LEVEL: 'silent', DATABASE_POOL_SIZE: '20' } });
  const cores: Core[] = [];
  return {
    simUrl: stack.sim.url,
    simKind: 'child process',
    simPid: stack.sim.child.pid!,
    db: stack.db,
    async core(env = {}, options = {}) {
      // Each core gets a prefix of its own: benchmarks must not see each other's queues.
      const config = loadConfig({ ...stack.env, REDIS_PREFIX: stack.newRedisPrefix(), ...env });
      const logger = options.logger ?? pino({ level: process.env.BENCH_LOG_LEVEL ?? 'silent' });
      const core = createCore(config, logger, { processName: 'worker' });
      cores.push(core);
      return { core, config };
    },
    defaultLogging() {
      // The stack's env silences the simulator's logs; a deployment's api sets neither variable.
      const { LOG_LEVEL: _level, LOG_FORMAT: _format, ...env } = stack.env;
      const config = loadConfig(env);
      return { logLevel: config.logLevel, logFormat: config.logFormat };
    },
    async close() {
      await Promise.allSettled(cores.map((c) => c.close()));
      await stack.stop();
    },
  };
}

export interface SimGrant {
  account: string;
  accessToken: string;
  refreshToken: string;
  expiresInSeconds: number;
  scopes: string[];
}

async function tokenRequest(simUrl: string, params: Record<string, string>) {
  const res = await fetch(`${simUrl}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: SIM_CLIENT.id, client_secret: SIM_CLIENT.secret, ...params }),
  });
  const body = (await res.json()) as { access_token?: string; refresh_token?: string; expires_in?: number; scope?: string; error?: string };
  if (!res.ok || !body.access_token) throw new Error(`sim token ${params.grant_type}: ${res.status} ${body.error ?? ''}`);
  return body;
}

/** One authorize + code exchange on the simulator: a new grant (its own refresh-token family) for `account`. */
export async function issueGrant(simUrl: string, account: string): Promise<SimGrant> {
  const authorize = new URL('/authorize', simUrl);
  for (const [k, v] of Object.entries({
    client_id: SIM_CLIENT.id,
    redirect_uri: SIM_REDIRECT,
    response_type: 'code',
    scope: SCOPES,
    audience: PRODUCTION_AUDIENCE,
    state: 'bench',
    sim_account: account,
    sim_auto_approve: '1',
  })) {
    authorize.searchParams.set(k, v);
  }
  const approved = await fetch(authorize, { redirect: 'manual' });
  await approved.arrayBuffer();
  const code = new URL(approved.headers.get('location') ?? SIM_REDIRECT).searchParams.get('code');
  if (!code) throw new Error(`sim authorize: ${approved.status} ${approved.headers.get('location') ?? ''}`);
  const body = await tokenRequest(simUrl, { grant_type: 'authorization_code', code, redirect_uri: SIM_REDIRECT });
  return {
    account,
    accessToken: body.access_token!,
    refreshToken: body.refresh_token!,
    expiresInSeconds: body.expires_in ?? 3600,
    scopes: (body.scope ?? '').split(' ').filter(Boolean),
  };
}

/** A refresh_token grant on the simulator; returns the rotated pair. */
export async function simRefresh(simUrl: string, refreshToken: string) {
  const body = await tokenRequest(simUrl, { grant_type: 'refresh_token', refresh_token: refreshToken });
  return { accessToken: body.access_token!, refreshToken: body.refresh_token! };
}

/** Runs `task(i)` for i in [0, count) with at most `parallel` at once. */
export async function pool(count: number, parallel: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, lane));
}

export async function issueGrants(simUrl: string, count: number, accountPrefix: string, parallel = 32): Promise<SimGrant[]> {
  const grants: SimGrant[] = new Array(count);
  await pool(count, parallel, async (i) => {
    grants[i] = await issueGrant(simUrl, `${accountPrefix}_${i}`);
  });
  return grants;
}

/**
 * Inserts connections straight into Postgres (one tenant), tokens encrypted and bound to each row as the
 * product does. `due` rows have 60 s of access token left, and next_refresh_at a day out: parked, so no
 * sweep claims them until the benchmark moves them all to one due instant (no race with a running worker's
 * reconcile, which would refresh some early and, once moved, again).
 * With `dueTimes`, row i falls due at dueTimes[i] (ms) with 60 s of access token left then.
 */
export async function insertConnections(core: Core, tenantExternalId: string, grants: SimGrant[], options: { due: boolean; dueTimes?: number[] }): Promise<string[]> {
  const tenant = await core.prisma.tenant.create({ data: { externalId: tenantExternalId } });
  const now = Date.now();
  const lifetimeMs = 3600_000;
  const rows = grants.map((g, i) => {
    const dueTime = options.dueTimes?.[i];
    const expiresAt = new Date(dueTime !== undefined ? dueTime + 60_000 : options.due ? now + 60_000 : now + lifetimeMs);
    const issuedAt = new Date(expiresAt.getTime() - lifetimeMs);
    const id = randomUUID();
    return {
      id,
      tenantId: tenant.id,
      environment: 'production' as const,
      status: 'active' as const,
      leverAccountId: g.account,
      scopes: g.scopes,
      accessTokenCiphertext: core.cipher.encrypt(g.accessToken, { row: id, column: 'accessToken' }),
      refreshTokenCiphertext: core.cipher.encrypt(g.refreshToken, { row: id, column: 'refreshToken' }),
      accessTokenExpiresAt: expiresAt,
      refreshTokenIssuedAt: issuedAt,
      grantCreatedAt: issuedAt,
      nextRefreshAt: dueTime !== undefined ? new Date(dueTime) : options.due ? new Date(now + 86_400_000) : new Date(expiresAt.getTime() - 600_000),
    };
  });
  for (let i = 0; i < rows.length; i += 1_000) await core.prisma.connection.createMany({ data: rows.slice(i, i + 1_000) });
  return rows.map((r) => r.id);
}

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); NaN elsewhere. */
export function cpuSeconds(pid: number): number {
  try {
    return procCpu(pid) / 1e6;
  } catch {
    return Number.NaN;
  }
}
