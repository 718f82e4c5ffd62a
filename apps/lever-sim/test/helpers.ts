import { createHash, randomBytes } from 'node:crypto';
import { startSim, type SimOptions } from '../src/index.js';

/** The one way these tests boot a simulator: in-process on a free port, spoken to over real HTTP. */

export const DEV = { clientId: 'lever-connect-dev', clientSecret: 'lever-connect-dev-secret' };
export const REDIRECT_URI = 'http://localhost:5173/oauth/callback';
export const PRODUCTION = 'https://api.lever.co/v1/';
export const SANDBOX = 'https://api.sandbox.lever.co/v1/';
export const DAY = 86_400;

export interface TokenResponse {
  status: number;
  body: Record<string, unknown> & { access_token?: string; refresh_token?: string; error?: string; error_description?: string };
}

export interface AuthorizeParams {
  client_id?: string;
  redirect_uri?: string;
  response_type?: string;
  scope?: string;
  audience?: string | undefined;
  state?: string;
  code_challenge?: string;
  code_challenge_method?: string;
  sim_account?: string;
  sim_auto_approve?: string;
}

export function pkcePair() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export type TestSim = Awaited<ReturnType<typeof bootSim>>;

/** One rotation as `GET /__sim/grants` shows it. */
export interface RotationView {
  at: string;
  delivered: boolean | null;
  settledAt: string | null;
  clientPort: number | null;
  lostBy?: 'closed_before_written' | 'reset_unread';
}

/** Polls `check` every 10 ms until it holds; fails naming `what` after `timeoutMs`. For effects that happen in the background. */
export async function waitUntil(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export async function bootSim(options: SimOptions = {}) {
  const sim = await startSim({ port: 0, ...options });
  const url = sim.url;

  function authorizeUrl(params: AuthorizeParams = {}): string {
    const defaults: AuthorizeParams = {
      client_id: DEV.clientId,
      redirect_uri: REDIRECT_URI,
      response_type: 'code',
      scope: 'offline_access opportunities:read:admin users:read:admin',
      audience: PRODUCTION,
      state: 'state-123',
    };
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries({ ...defaults, ...params })) if (value !== undefined) query.set(key, value);
    return `${url}/authorize?${query}`;
  }

  async function authorize(params: AuthorizeParams = {}) {
    return fetch(authorizeUrl(params), { redirect: 'manual' });
  }

  /** Authorizes with auto-approve and returns the code from the callback URL. */
  async function code(params: AuthorizeParams = {}): Promise<string> {
    const res = await authorize({ sim_auto_approve: '1', ...params });
    if (res.status !== 302) throw new Error(`authorize: ${res.status} ${await res.text()}`);
    const location = new URL(res.headers.get('location')!);
    const value = location.searchParams.get('code');
    if (!value) throw new Error(`authorize redirected without a code: ${location}`);
    return value;
  }

  async function token(
    fields: Record<string, string>,
    how: { json?: boolean; basic?: boolean; signal?: AbortSignal } = {},
  ): Promise<TokenResponse> {
    const headers: Record<string, string> = { accept: 'application/json' };
    let body: Record<string, string> = fields;
    if (how.basic) {
      const { client_id, client_secret, ...rest } = fields;
      headers.authorization = `Basic ${Buffer.from(`${client_id}:${client_secret}`).toString('base64')}`;
      body = rest;
    }
    headers['content-type'] = how.json ? 'application/json' : 'application/x-www-form-urlencoded';
    const res = await fetch(`${url}/oauth/token`, {
      method: 'POST',
      headers,
      body: how.json ? JSON.stringify(body) : new URLSearchParams(body).toString(),
      ...(how.signal ? { signal: how.signal } : {}),
    });
    return { status: res.status, body: (await res.json()) as TokenResponse['body'] };
  }

  async function exchange(codeValue: string, extra: Record<string, string> = {}) {
    return token({
      grant_type: 'authorization_code',
      client_id: DEV.clientId,
      client_secret: DEV.clientSecret,
      code: codeValue,
      redirect_uri: REDIRECT_URI,
      ...extra,
    });
  }

  async function refresh(refreshToken: string, how: { signal?: AbortSignal } = {}) {
    return token(
      { grant_type: 'refresh_token', client_id: DEV.clientId, client_secret: DEV.clientSecret, refresh_token: refreshToken },
      how,
    );
  }

  /** A completed authorization: access token and (with offline_access) refresh token. */
  async function connect(params: AuthorizeParams = {}) {
    const res = await exchange(await code(params));
    if (res.status !== 200) throw new Error(`exchange: ${res.status} ${JSON.stringify(res.body)}`);
    return { accessToken: res.body.access_token!, refreshToken: res.body.refresh_token!, body: res.body };
  }

  async function control<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${url}/__sim${path}`, {
      method,
      ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
    });
    if (!res.ok) throw new Error(`${method} /__sim${path}: ${res.status} ${await res.text()}`);
    return (res.status === 204 ? undefined : await res.json()) as T;
  }

  /** One flat object of counters, rejections included (`rejectedRefreshTokenReuse`, ...). */
  const stats = () => control<Record<string, number>>('GET', '/stats');
  /** `GET /__sim/stats/api`: answers by status and accepted requests per second, per `<environment>:<account>`. */
  const apiStats = () =>
    control<{ accounts: Record<string, Record<string, number>>; perSecond: Record<string, Array<{ second: number; count: number }>> }>('GET', '/stats/api');
  const simNow = async () => Date.parse((await control<{ now: string }>('GET', '/clock')).now);
  const secrets = () => control<{ accessTokens: string[]; refreshTokens: string[]; codes: string[] }>('GET', '/secrets');
  const advance = (seconds: number) => control('POST', '/clock', { advanceSeconds: seconds });
  const fault = (spec: Record<string, unknown>) => control('POST', '/faults', spec);
  const introspect = (tokenValue: string) => control<{ active: boolean; account?: string; grantId?: string }>('POST', '/introspect', { token: tokenValue });
  const grants = () => control<Array<{ id: string; account: string; status: string; revokedReason?: string; refreshCount: number; clientId: string }>>('GET', '/grants');

  /** `GET /__sim/grants?account=`: one account's grants with their rotation census. */
  const grantsOf = (account: string) =>
    control<
      Array<{
        id: string;
        account: string;
        status: string;
        revokedReason?: string;
        refreshCount: number;
        rotations: number;
        lastRotation: RotationView | null;
        undeliveredRotations: RotationView[];
      }>
    >('GET', `/grants?account=${encodeURIComponent(account)}`);

  /** POST /oauth/revoke; the answer is usually an empty body, so it is returned as text. */
  async function revoke(fields: Record<string, string>, how: { json?: boolean; basic?: boolean } = {}) {
    const headers: Record<string, string> = {};
    let body: Record<string, string> = fields;
    if (how.basic) {
      const { client_id, client_secret, ...rest } = fields;
      headers.authorization = `Basic ${Buffer.from(`${client_id}:${client_secret}`).toString('base64')}`;
      body = rest;
    }
    headers['content-type'] = how.json ? 'application/json' : 'application/x-www-form-urlencoded';
    const res = await fetch(`${url}/oauth/revoke`, {
      method: 'POST',
      headers,
      body: how.json ? JSON.stringify(body) : new URLSearchParams(body).toString(),
    });
    return { status: res.status, text: await res.text() };
  }

  function api(path: string, accessToken: string | undefined, init: RequestInit = {}) {
    return fetch(`${url}${path}`, {
      ...init,
      headers: { ...(accessToken ? { authorization: `Bearer ${accessToken}` } : {}), ...(init.headers as Record<string, string> | undefined) },
    });
  }

  return { url, close: sim.close, authorizeUrl, authorize, code, token, exchange, refresh, connect, control, stats, apiStats, simNow, secrets, revoke, advance, fault, introspect, grants, grantsOf, api };
}

/** Reads a JWT's claims without verifying (the sim's key is private, as Lever's is). */
export function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}
