import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, buildTestApp, type TestApp } from './helpers.js';

interface LogLine {
  msg: string;
  level: number;
  reqId?: string;
  req?: { method: string; url: string; headers?: Record<string, unknown> };
  res?: { statusCode: number };
  responseTime?: number;
}

describe('request log', () => {
  let t: TestApp;
  const lines: LogLine[] = [];
  beforeAll(async () => {
    t = await buildTestApp({}, { logTo: { write: (line) => void lines.push(JSON.parse(line) as LogLine) } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('writes one line per request, when it is answered, with the request, the status and the time, and no secret', async () => {
    const ok = await t.app.inject({ method: 'GET', url: '/v1/connections?limit=1', headers: bearer(t.adminKey) });
    expect(ok.statusCode).toBe(200);
    const refused = await t.app.inject({ method: 'GET', url: '/v1/connections?limit=1', headers: bearer('lc_wrong_key') });
    expect(refused.statusCode).toBe(401);
    const missing = await t.app.inject({ method: 'GET', url: '/no/such/route' });
    expect(missing.statusCode).toBe(404);

    for (const [reply, method, url] of [
      [ok, 'GET', '/v1/connections?limit=1'],
      [refused, 'GET', '/v1/connections?limit=1'],
      [missing, 'GET', '/no/such/route'],
    ] as const) {
      const id = reply.headers['x-request-id'];
      const mine = lines.filter((l) => l.reqId === id && (l.req !== undefined || l.res !== undefined));
      expect(mine, `lines of request ${String(id)}`).toHaveLength(1);
      expect(mine[0]).toMatchObject({ msg: 'request completed', req: { method, url }, res: { statusCode: reply.statusCode } });
      expect(mine[0]!.responseTime).toBeGreaterThanOrEqual(0);
    }
    expect(lines.some((l) => l.msg === 'incoming request')).toBe(false);
    const text = JSON.stringify(lines);
    expect(text).not.toContain(t.adminKey);
    expect(text).not.toContain('lc_wrong_key');
  });
});
