import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '@lever-connect/runtime';
import { sampleGauges, type Core } from '../src/index.js';
import { connectViaSim, createFixture, type Fixture } from './fixture.js';

/** The value of one series in Prometheus text format, or undefined. */
function series(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{([^}]*)\})? ([0-9.e+-]+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries((m[3] ?? '').split(',').filter(Boolean).map((kv) => kv.split('=') as [string, string]).map(([k, v]) => [k, v.replace(/^"|"$/g, '')]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[4]);
  }
  return undefined;
}

describe('metrics of the refresh engine', () => {
  let f: Fixture;
  let core: Core;
  beforeAll(async () => {
    f = await createFixture();
    core = f.makeCore();
  });
  afterAll(async () => {
    await f?.close();
  });

  it('counts outcomes, lock waits, lost responses and samples the connection and queue gauges', async () => {
    const ok = (await connectViaSim(core, f.sim.url, { tenant: 'm-ok', account: 'acct_m_ok' })).connection;
    const failing = (await connectViaSim(core, f.sim.url, { tenant: 'm-failing', account: 'acct_m_failing' })).connection;
    const lost = (await connectViaSim(core, f.sim.url, { tenant: 'm-lost', account: 'acct_m_lost' })).connection;

    expect((await core.refresher.refresh(ok.id, { trigger: 'manual', force: true })).outcome).toBe('refreshed');
    await f.simPost('/__sim/faults', { target: 'token', kind: '503', count: 1, matchAccount: 'acct_m_failing' });
    expect((await core.refresher.refresh(failing.id, { trigger: 'schedule', force: true })).outcome).toBe('failed');
    await f.simPost('/__sim/faults', { target: 'token', kind: 'timeout_after_rotation', count: 1, matchAccount: 'acct_m_lost' });
    expect((await core.refresher.refresh(lost.id, { trigger: 'schedule', force: true })).outcome).toBe('failed');
    expect(await core.refresher.refresh(lost.id, { trigger: 'schedule', force: true })).toMatchObject({ outcome: 'needs_reauth', reason: 'refresh_response_lost' });
    // One connection far behind its schedule.
    await core.prisma.connection.update({ where: { id: ok.id }, data: { nextRefreshAt: new Date(Date.now() - 3_600_000) } });

    await sampleGauges({ metrics: core.metrics, prisma: core.prisma, queues: core.watchedQueues });
    const text = await core.metrics.registry.metrics();
    expect(series(text, 'lever_connect_refresh_attempts_total', { outcome: 'refreshed', trigger: 'manual' })).toBe(1);
    expect(series(text, 'lever_connect_refresh_attempts_total', { outcome: 'failed', reason: 'server_error' }) ?? series(text, 'lever_connect_refresh_attempts_total', { outcome: 'failed' })).toBeGreaterThanOrEqual(1);
    expect(series(text, 'lever_connect_refresh_attempts_total', { outcome: 'needs_reauth', reason: 'refresh_response_lost' })).toBe(1);
    expect(series(text, 'lever_connect_refresh_response_lost_total')).toBe(1);
    expect(series(text, 'lever_connect_lock_wait_seconds_count', { outcome: 'acquired' })).toBe(4);
    expect(series(text, 'lever_connect_connections', { status: 'active', environment: 'production' })).toBe(2);
    expect(series(text, 'lever_connect_connections', { status: 'needs_reauth', environment: 'production' })).toBe(1);
    expect(series(text, 'lever_connect_connections_refresh_failing', { environment: 'production' })).toBe(1);
    expect(series(text, 'lever_connect_connections_overdue')).toBe(1);
    for (const queue of ['refresh', 'maintenance', 'webhooks']) {
      expect(series(text, 'lever_connect_queue_jobs', { queue, state: 'delayed' }), queue).toBeTypeOf('number');
    }
  });

  it('renders HTTP request counts by status and cumulative duration buckets by route', async () => {
    const metrics = createMetrics('api');
    metrics.http.observe('/v1/connections/:id/access-token', 'GET', 200, 0.0008);
    metrics.http.observe('/v1/connections/:id/access-token', 'GET', 200, 0.02);
    metrics.http.observe('/v1/connections/:id/access-token', 'GET', 404, 0.003);
    const text = await metrics.registry.metrics();
    const route = { route: '/v1/connections/:id/access-token', method: 'GET' };
    expect(series(text, 'lever_connect_http_requests_total', { ...route, status: '200', process: 'api' })).toBe(2);
    expect(series(text, 'lever_connect_http_requests_total', { ...route, status: '404' })).toBe(1);
    expect(series(text, 'lever_connect_http_request_duration_seconds_bucket', { ...route, le: '0.001' })).toBe(1);
    expect(series(text, 'lever_connect_http_request_duration_seconds_bucket', { ...route, le: '0.005' })).toBe(2);
    expect(series(text, 'lever_connect_http_request_duration_seconds_bucket', { ...route, le: '0.025' })).toBe(3);
    expect(series(text, 'lever_connect_http_request_duration_seconds_bucket', { ...route, le: '+Inf' })).toBe(3);
    expect(series(text, 'lever_connect_http_request_duration_seconds_count', route)).toBe(3);
    expect(series(text, 'lever_connect_http_request_duration_seconds_sum', route)).toBeCloseTo(0.0238, 6);
    expect(text).toContain('# TYPE lever_connect_http_request_duration_seconds histogram');
  });
});
