import { describe, expect, it } from 'vitest';
import { parseSimEnv, SimEnvError } from '../src/env.js';

describe('parseSimEnv', () => {
  it('works with nothing set', () => {
    expect(parseSimEnv({})).toEqual({
      port: 4010,
      host: '127.0.0.1',
      options: {
        mode: 'production',
        autoApprove: false,
        accessTokenTtlSeconds: 3600,
        reuseLeewaySeconds: 0,
        control: true,
        logLevel: 'warn',
      },
    });
  });

  it('reads every variable', () => {
    const config = parseSimEnv({
      PORT: '5000',
      HOST: '0.0.0.0',
      SIM_AUTO_APPROVE: '1',
      SIM_ACCESS_TOKEN_TTL: '30',
      SIM_AUDIENCE: 'https://api.lever.co/v1/, https://custom.example/',
      SIM_MODE: 'sandbox',
      SIM_REUSE_LEEWAY_SECONDS: '5',
      SIM_CONTROL: '0',
      SIM_PUBLIC_URL: 'https://sim.example/',
      LOG_LEVEL: 'debug',
      SIM_SECRETS_LIMIT: '1000',
    });
    expect(config).toEqual({
      port: 5000,
      host: '0.0.0.0',
      options: {
        mode: 'sandbox',
        autoApprove: true,
        accessTokenTtlSeconds: 30,
        reuseLeewaySeconds: 5,
        control: false,
        logLevel: 'debug',
        audiences: ['https://api.lever.co/v1/', 'https://custom.example/'],
        publicUrl: 'https://sim.example',
        secretsLimit: 1000,
      },
    });
  });

  it('refuses NODE_ENV=production, whatever else is set', () => {
    expect(() => parseSimEnv({ NODE_ENV: 'production' })).toThrow(/^refused with NODE_ENV=production: the simulator is for development and tests only/);
    expect(() => parseSimEnv({ NODE_ENV: 'production', SIM_CONTROL: '0' })).toThrow(SimEnvError);
    expect(parseSimEnv({ NODE_ENV: 'development' }).options.control).toBe(true);
    expect(parseSimEnv({ NODE_ENV: 'test', SIM_CONTROL: '0' }).options.control).toBe(false);
  });

  it('reads the webhook variables', () => {
    expect(
      parseSimEnv({ SIM_WEBHOOKS_ALLOW_HTTP: '0', SIM_WEBHOOK_RETRY_DELAYS_MS: '100, 200,400', SIM_WEBHOOK_TIMEOUT_MS: '500', SIM_WEBHOOK_DISABLE_AFTER: '2' }).options,
    ).toMatchObject({ allowHttpWebhooks: false, webhookRetryDelaysMs: [100, 200, 400], webhookTimeoutMs: 500, webhookDisableAfter: 2 });
  });

  it('reads raised API limits (benchmarks take Lever\'s limits out of the way with them)', () => {
    expect(parseSimEnv({ SIM_API_RATE_PER_SECOND: '100000', SIM_API_BURST: '100000' }).options.rateLimits).toEqual({ api: { ratePerSecond: 100000, burst: 100000 } });
    expect(parseSimEnv({}).options.rateLimits).toBeUndefined();
  });

  it('accepts http webhook URLs unless SIM_WEBHOOKS_ALLOW_HTTP=0', () => {
    expect(parseSimEnv({}).options.allowHttpWebhooks).toBeUndefined(); // the option's default: allowed
    expect(parseSimEnv({ SIM_WEBHOOKS_ALLOW_HTTP: '0' }).options.allowHttpWebhooks).toBe(false);
  });

  it.each([
    ['SIM_WEBHOOKS_ALLOW_HTTP', 'maybe'],
    ['SIM_WEBHOOK_RETRY_DELAYS_MS', '100,soon'],
    ['SIM_WEBHOOK_RETRY_DELAYS_MS', '-5'],
    ['SIM_WEBHOOK_TIMEOUT_MS', '0'],
    ['SIM_WEBHOOK_DISABLE_AFTER', 'x'],
    ['SIM_MODE', 'staging'],
    ['SIM_ACCESS_TOKEN_TTL', '0'],
    ['SIM_REUSE_LEEWAY_SECONDS', 'soon'],
    ['SIM_AUTO_APPROVE', 'yes'],
    ['PORT', 'x'],
    ['SIM_PUBLIC_URL', 'not a url'],
    ['SIM_SECRETS_LIMIT', '-1'],
  ])('names %s when its value %j is bad', (name, value) => {
    expect(() => parseSimEnv({ [name]: value })).toThrow(name);
  });
});
