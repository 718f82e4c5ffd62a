import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/index.js';

const key = randomBytes(32).toString('base64');
/** The least a simulator-mode start needs: a key and LEVER_ENV=simulator (live is the default). */
const simulator = { TOKEN_ENCRYPTION_KEY: key, LEVER_ENV: 'simulator' };

describe('loadConfig', () => {
  it('works with a key and LEVER_ENV=simulator, pointing both environments at the simulator', () => {
    const config = loadConfig({ ...simulator });
    expect(config.lever.mode).toBe('simulator');
    expect(config.lever.environments.production).toMatchObject({
      authUrl: 'http://127.0.0.1:4010',
      apiBaseUrl: 'http://127.0.0.1:4010/v1',
      audience: 'https://api.lever.co/v1/',
      clientId: 'lever-connect-dev',
    });
    expect(config.lever.environments.sandbox).toMatchObject({
      apiBaseUrl: 'http://127.0.0.1:4010/sandbox/v1',
      audience: 'https://api.sandbox.lever.co/v1/',
    });
    expect(config.databaseUrl).toBe('postgresql://postgres@127.0.0.1:5432/lever_connect');
    expect(config.connect.callbackUrl).toBe('http://localhost:3000/oauth/callback');
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads the key ring and whether v1 (row-only) ciphertexts still decrypt (by default they do)', () => {
    const previous = randomBytes(32).toString('base64');
    const config = loadConfig({ ...simulator, TOKEN_ENCRYPTION_PREVIOUS_KEYS: previous });
    expect(config.tokenEncryption).toEqual({ currentKey: Buffer.from(key, 'base64'), previousKeys: [Buffer.from(previous, 'base64')], acceptLegacy: true });
    expect(loadConfig({ ...simulator, TOKEN_ENCRYPTION_ACCEPT_LEGACY: 'false' }).tokenEncryption.acceptLegacy).toBe(false);
    expect(() => loadConfig({ ...simulator, TOKEN_ENCRYPTION_ACCEPT_LEGACY: 'maybe' })).toThrow(/TOKEN_ENCRYPTION_ACCEPT_LEGACY/);
  });

  it('always adds offline_access to the configured scopes', () => {
    const config = loadConfig({ ...simulator, LEVER_SCOPES: 'users:read:admin,opportunities:read:admin' });
    expect(config.lever.environments.production.scopes).toEqual(['users:read:admin', 'opportunities:read:admin', 'offline_access']);
  });

  it('uses Lever’s real hosts in live mode and lets one environment be overridden', () => {
    const config = loadConfig({
      TOKEN_ENCRYPTION_KEY: key,
      LEVER_ENV: 'live',
      LEVER_PRODUCTION_CLIENT_ID: 'id',
      LEVER_PRODUCTION_CLIENT_SECRET: 'secret',
      LEVER_SANDBOX_AUTH_URL: 'http://127.0.0.1:9999',
    });
    expect(config.lever.environments.production).toMatchObject({ authUrl: 'https://auth.lever.co', apiBaseUrl: 'https://api.lever.co/v1' });
    expect(config.lever.environments.sandbox.authUrl).toBe('http://127.0.0.1:9999');
    expect(config.lever.environments.sandbox.clientId).toBe('');
  });

  it('reports every bad variable at once, by name', () => {
    try {
      loadConfig({ TOKEN_ENCRYPTION_KEY: 'short', PORT: 'eighty', REDIS_URL: 'nope' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const message = (error as Error).message;
      expect(message).toContain('PORT');
      expect(message).toContain('REDIS_URL');
    }
    expect(() => loadConfig({ TOKEN_ENCRYPTION_KEY: 'c2hvcnQ=' })).toThrow(/TOKEN_ENCRYPTION_KEY/);
    expect(() => loadConfig({})).toThrow(/TOKEN_ENCRYPTION_KEY: required/);
  });

  it('refuses the simulator, http callbacks and missing credentials in production', () => {
    expect(() => loadConfig({ TOKEN_ENCRYPTION_KEY: key, NODE_ENV: 'production', LEVER_ENV: 'simulator' })).toThrow(/simulator mode refuses/);
    expect(() => loadConfig({ TOKEN_ENCRYPTION_KEY: key, NODE_ENV: 'production' })).toThrow(/LEVER_PRODUCTION_CLIENT_ID/);
    expect(() =>
      loadConfig({
        TOKEN_ENCRYPTION_KEY: key,
        NODE_ENV: 'production',
        LEVER_PRODUCTION_CLIENT_ID: 'id',
        LEVER_PRODUCTION_CLIENT_SECRET: 's',
        PUBLIC_BASE_URL: 'http://connect.example.com',
      }),
    ).toThrow(/PUBLIC_BASE_URL/);
  });

  it('keeps a finished connect session readable 10 minutes by default (CONNECT_RESULT_TTL_SECONDS, 60 s to a day)', () => {
    expect(loadConfig({ ...simulator }).connect.resultTtlSeconds).toBe(600);
    expect(loadConfig({ ...simulator, CONNECT_RESULT_TTL_SECONDS: '120' }).connect.resultTtlSeconds).toBe(120);
    expect(() => loadConfig({ ...simulator, CONNECT_RESULT_TTL_SECONDS: '10' })).toThrow(/CONNECT_RESULT_TTL_SECONDS/);
  });

  it('validates CONNECT_ALLOWED_ORIGINS as origins and always allows its own', () => {
    expect(() => loadConfig({ ...simulator, CONNECT_ALLOWED_ORIGINS: 'https://app.example.com/path' })).toThrow(
      /CONNECT_ALLOWED_ORIGINS/,
    );
    const config = loadConfig({ ...simulator, CONNECT_ALLOWED_ORIGINS: 'https://app.example.com' });
    expect(config.connect.allowedOrigins).toEqual(['http://localhost:3000', 'https://app.example.com']);
  });

  it('reads TRUST_PROXY as off, every hop, a number of hops, or addresses and CIDR ranges', () => {
    const trust = (v?: string) => loadConfig({ ...simulator, ...(v === undefined ? {} : { TRUST_PROXY: v }) }).trustProxy;
    expect(trust()).toBe(false);
    expect(trust('true')).toBe(true);
    expect(trust('2')).toBe(2);
    expect(trust('10.0.0.0/8, 127.0.0.1, ::1, fd00::/8')).toEqual(['10.0.0.0/8', '127.0.0.1', '::1', 'fd00::/8']);
    expect(() => trust('loadbalancer')).toThrow(/TRUST_PROXY: "loadbalancer"/);
    expect(() => trust('10.0.0.0/33')).toThrow(/TRUST_PROXY/);
  });

  it('derives the fair-share quotas, and 0 turns one off', () => {
    const quotas = loadConfig({ ...simulator, QUOTA_FORCED_REFRESH_PER_TENANT_PER_MINUTE: '60', QUOTA_PROXY_PER_KEY_PER_SECOND: '0' }).quotas;
    expect(quotas.forcedRefreshPerTenant).toEqual({ perSecond: 1, burst: 10 });
    expect(quotas.proxyPerTenant).toEqual({ perSecond: 100, burst: 200 });
    expect(quotas.proxyPerKey.perSecond).toBe(0);
    expect(quotas.connectPerMinute).toBe(120);
  });

  it('treats an empty value as unset, so a copied .env.example works as is', async () => {
    const { readFileSync } = await import('node:fs');
    const example = readFileSync(new URL('../../../.env.example', import.meta.url), 'utf8');
    const env: Record<string, string> = {};
    for (const line of example.split('\n')) {
      const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
      if (m) env[m[1]!] = m[2]!;
    }
    expect(Object.keys(env).length).toBeGreaterThan(10);
    // As is, it means live Lever without credentials: refused with the sentence that names the simulator.
    expect(() => loadConfig({ ...env, TOKEN_ENCRYPTION_KEY: key })).toThrow(/set LEVER_ENV=simulator/);
    // pnpm dev adds LEVER_ENV=simulator when the file leaves it empty.
    const config = loadConfig({ ...env, TOKEN_ENCRYPTION_KEY: key, LEVER_ENV: 'simulator' });
    expect(config.port).toBe(3000);
    expect(config.lever.environments.production.authUrl).toBe('http://127.0.0.1:4010');
    expect(config.refresh.lockTtlMs).toBe(config.lever.httpTimeoutMs + 20_000);
    expect(loadConfig({ ...simulator, PORT: '', LEVER_AUTH_URL: '  ' }).port).toBe(3000);
  });
});
