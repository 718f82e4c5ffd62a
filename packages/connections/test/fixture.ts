import { createHash, randomBytes } from 'node:crypto';
import { loadConfig } from '@lever-connect/config';
import { parseTokenResponse } from '@lever-connect/lever';
import { startTestStack, type ManagedProcess, type TestDatabase } from '@lever-connect/testing';
import pino from 'pino';
import { createCore, type Core } from '../src/index.js';

export interface Fixture {
  /** The simulator, a child process of its own. */
  sim: ManagedProcess;
  db: TestDatabase;
  redisPrefix: string;
  env: Record<string, string>;
  /** A core (one "process"); make more to act like several processes. */
  makeCore(overrides?: Record<string, string>): Core;
  cores: Core[];
  simPost(path: string, body?: unknown): Promise<Response>;
  simStats(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

/** The simulator, a fresh database and a Redis prefix (startTestStack); cores are built here, in-process. */
export async function createFixture(overrides: Record<string, string> = {}): Promise<Fixture> {
  const stack = await startTestStack({ env: { LEVER_HTTP_TIMEOUT_MS: '2000', ...overrides } });
  const cores: Core[] = [];
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  return {
    sim: stack.sim,
    db: stack.db,
    redisPrefix: stack.redisPrefix,
    env: stack.env,
    cores,
    makeCore(extra = {}) {
      const core = createCore(loadConfig({ ...stack.env, ...extra }), log);
      cores.push(core);
      return core;
    },
    // The raw answer (tests assert on refusals too), unlike stack.simPost.
    simPost: (path, body) =>
      fetch(stack.sim.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) }),
    simStats: stack.simStats,
    async close() {
      await Promise.all(cores.map((c) => c.close()));
      await stack.stop();
    },
  };
}

/**
 * Runs Lever's authorization-code flow against the simulator (auto-approved) and stores the result through
 * the domain's connect service, exactly as the callback route does.
 */
export async function connectViaSim(
  core: Core,
  simUrl: string,
  options: { tenant: string; account?: string; environment?: 'sandbox' | 'production' },
) {
  const session = await core.connect.createSession({ tenant: { externalId: options.tenant }, environment: options.environment });
  const env = core.config.lever.environments[session.environment];
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const redirectUri = core.config.connect.callbackUrl;
  const authorize = new URL('/authorize', simUrl);
  authorize.search = new URLSearchParams({
    client_id: env.clientId,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope: env.scopes.join(' '),
    audience: env.audience,
    state: 'fixture-state',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    sim_auto_approve: '1',
    ...(options.account ? { sim_account: options.account } : {}),
  }).toString();
  const approved = await fetch(authorize, { redirect: 'manual' });
  const code = new URL(approved.headers.get('location')!).searchParams.get('code');
  if (!code) throw new Error(`authorize did not return a code: ${approved.status} ${approved.headers.get('location')}`);
  const tokenRes = await fetch(new URL('/oauth/token', simUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: env.clientId,
      client_secret: env.clientSecret,
      code,
      redirect_uri: redirectUri,
      code_verifier: verifier,
    }),
  });
  if (!tokenRes.ok) throw new Error(`code exchange failed: ${tokenRes.status} ${await tokenRes.text()}`);
  const tokens = parseTokenResponse(await tokenRes.json(), new Date());
  const sessionRow = await core.prisma.connectSession.findFirstOrThrow({ where: { id: session.id } });
  return core.connect.completeAuthorization(sessionRow.id, tokens);
}

/** Calls the simulator's API with a token; 200 means Lever would accept it. */
export async function simAccepts(simUrl: string, accessToken: string, path = '/v1/users'): Promise<number> {
  const res = await fetch(simUrl + path, { headers: { authorization: `Bearer ${accessToken}` } });
  await res.body?.cancel();
  return res.status;
}

/**
 * Spends a refresh token at the simulator behind the service's back, as a worker would just before it died
 * or lost Postgres: Lever has rotated, the service has not stored the answer. Uses the dev client's
 * credentials in the form body, as Lever documents.
 */
export async function rotateAtSim(simUrl: string, refreshToken: string): Promise<Response> {
  return fetch(new URL('/oauth/token', simUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      client_id: 'lever-connect-dev',
      client_secret: 'lever-connect-dev-secret',
      refresh_token: refreshToken,
    }),
  });
}

/**
 * Calls `observe` with the text and parameters of every statement sent through `pool.query`, then sends it
 * unchanged: tests count or capture statements without altering them.
 */
export function observeQueries(pool: TestDatabase['db']['pool'], observe: (text: string, values: readonly unknown[]) => void): void {
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  (pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const config = args[0] as string | { text?: string; values?: unknown[] };
    const text = typeof config === 'string' ? config : (config.text ?? '');
    const values = (typeof config === 'string' ? args[1] : config.values) as unknown[] | undefined;
    observe(text, values ?? []);
    return query(...args);
  };
}
