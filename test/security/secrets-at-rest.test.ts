import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import {
  collectDbTokens,
  newSecretSet,
  registerWebhook,
  scanForSecrets,
  startReaders,
  startWebhookReceiver,
  trackLogs,
} from '../support/chaos-harness.js';
import { connectMany } from '../support/connect-flow.js';
import { startStack } from '../support/stack.js';

/**
 * Secrets at rest and in logs, after a run that exercises every path a secret travels: connect (code
 * exchange), scheduled and forced refreshes, token reads, API key and webhook endpoint creation, secret
 * rotation, a webhook delivery, a disconnect, and Lever failures (their error paths log the most).
 * The database dump, a dump of every Redis key of the deployment, and every log line of every process must
 * contain none of them in plain text. Refresh
 * tokens are only ever seen by decrypting the rows with the run's TOKEN_ENCRYPTION_KEY (sampled during the
 * run, so rotated ones count too); access tokens are collected from the token endpoint.
 */
describe('security: secrets at rest and in logs', () => {
  it('leaves no token, client secret, API key or webhook secret in the pg_dump, the Redis keys or the logs', async () => {
    const receiver = await startWebhookReceiver();
    // debug logs: the most verbose the processes get.
    const stack = await startStack({ workers: 1, simEnv: { SIM_ACCESS_TOKEN_TTL: '8', LOG_LEVEL: 'debug' }, env: { LOG_LEVEL: 'debug' } });
    const secrets = newSecretSet(stack);
    const logs = trackLogs(stack);
    const admin = { authorization: `Bearer ${stack.adminKey}`, 'content-type': 'application/json' };
    try {
      const hook = await registerWebhook(stack, receiver.url);
      secrets.other.set('webhook secret', hook.secret);
      const rotated = await fetch(`${stack.api.url}/v1/webhook-endpoints/${hook.id}/rotate-secret`, { method: 'POST', headers: admin, body: '{}' });
      secrets.other.set('rotated webhook secret', ((await rotated.json()) as { secret: string }).secret);
      const key = await fetch(`${stack.api.url}/v1/api-keys`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'tenant', tenantExternalId: 'secret-0' }) });
      const tenantKey = ((await key.json()) as { key: string }).key;
      secrets.other.set('tenant API key', tenantKey);
      const ids = await connectMany({ apiUrl: stack.api.url, apiKey: stack.adminKey, count: 8, prefix: 'secret' });
      await collectDbTokens(stack, secrets);
      const readers = startReaders(stack, ids, { concurrency: 2, forceEvery: 3, seenTokens: secrets.accessTokens });
      // Failures on the way: a 503, a lost response (ambiguous path), a slow answer.
      await stack.simPost('/__sim/faults', { target: 'token', kind: '503', count: 3 });
      await stack.simPost('/__sim/faults', { target: 'token', kind: 'reset', count: 2 });
      for (let i = 0; i < 6; i++) {
        await new Promise((r) => setTimeout(r, 2500));
        await collectDbTokens(stack, secrets);
      }
      await readers.stop();
      // The tenant key reads a token too; a test webhook; a disconnect wipes a connection's tokens.
      const own = await fetch(`${stack.api.url}/v1/connections/${ids[0]}/access-token`, { headers: { authorization: `Bearer ${tenantKey}` } });
      expect(own.status).toBe(200);
      secrets.accessTokens.add(((await own.json()) as { accessToken: string }).accessToken);
      await fetch(`${stack.api.url}/v1/webhook-endpoints/${hook.id}/test`, { method: 'POST', headers: admin, body: '{}' });
      await collectDbTokens(stack, secrets);
      expect((await fetch(`${stack.api.url}/v1/connections/${ids[1]}`, { method: 'DELETE', headers: { authorization: `Bearer ${stack.adminKey}` } })).status).toBeLessThan(300);
      await new Promise((r) => setTimeout(r, 2000));
      for (const p of [...stack.apis, ...stack.workers]) logs.add(p.logFile);
      expect(secrets.accessTokens.size).toBeGreaterThan(8);
      expect(secrets.refreshTokens.size).toBeGreaterThan(8);
      const scan = await scanForSecrets(stack, secrets, logs, 'security-secrets');
      expect(scan.leaks).toEqual([]);
      expect(scan.scanned).toBeGreaterThanOrEqual(5);
      // The Redis dump holds what the run left there (queues, locks' traces, caches, quotas)...
      expect(scan.redisKeys).toBeGreaterThan(3);
      // ...and would show a token stored there in plain text: a canary proves the scan reads it.
      const canary = [...secrets.accessTokens][0]!;
      const redis = new Redis(stack.env.REDIS_URL!);
      await redis.set(`${stack.redisPrefix}:canary`, JSON.stringify({ accessToken: canary }));
      redis.disconnect();
      const planted = await scanForSecrets(stack, secrets, [], 'security-secrets-canary');
      expect(planted.leaks).toEqual([{ kind: 'access token', file: 'test-artifacts/chaos/security-secrets-canary.redis.txt' }]);
    } finally {
      await stack.stop();
      await receiver.close();
    }
  }, 120_000);
});
