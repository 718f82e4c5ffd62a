import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createHealthServer, isLoopback, metricsAccess } from '../src/health-server.js';

const TOKEN = 'metrics-token-0123456789abcdef';
const rendered = { contentType: 'text/plain; version=0.0.4', body: 'lever_connect_up 1\n' };

describe("the worker's health and metrics endpoint", () => {
  let server: Server | undefined;
  afterEach(async () => {
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server!.close(resolve));
    server = undefined;
  });
  async function start(metricsToken: string | undefined): Promise<string> {
    server = createHealthServer({ metricsToken, renderMetrics: async () => rendered });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('answers /metrics to a loopback client when no METRICS_TOKEN is set, and /healthz to anyone', async () => {
    const base = await start(undefined);
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toBe(rendered.body);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('wants the bearer token from everyone once METRICS_TOKEN is set, loopback included', async () => {
    const base = await start(TOKEN);
    for (const headers of [{}, { authorization: `Bearer ${TOKEN.slice(0, -1)}` }, { authorization: TOKEN }] as Array<Record<string, string>>) {
      const res = await fetch(`${base}/metrics`, { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('metrics_token_required');
    }
    const ok = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe(rendered.body);
  });

  // Tests send traffic to 127.0.0.1 only, so a remote client is the decision's input rather than a socket.
  it.each([
    ['127.0.0.1', true],
    ['127.3.4.5', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['10.0.0.7', false],
    ['::ffff:10.0.0.7', false],
    ['172.17.0.1', false],
    ['fe80::1', false],
    [undefined, false],
  ] as const)('refuses /metrics without a token unless the client is on loopback: %s', (remoteAddress, loopback) => {
    expect(isLoopback(remoteAddress)).toBe(loopback);
    expect(metricsAccess({ remoteAddress, authorization: undefined }, undefined)).toBe(loopback ? 'allowed' : 'loopback_only');
    expect(metricsAccess({ remoteAddress, authorization: `Bearer ${TOKEN}` }, TOKEN)).toBe('allowed');
  });
});
