import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { pacedLoad } from '../../../bench/lib/paced-load.js';

// The benchmark's open-loop load generator (bench/lib/paced-load-worker.mjs speaks HTTP/1.1 over raw
// sockets): what it counts must be what the server answered.
describe('paced load generator', () => {
  const servers: http.Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });

  async function serve(handler: http.RequestListener): Promise<string> {
    const server = http.createServer(handler);
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('sends every request at the rate asked, with its headers, and tells 2xx from the rest', async () => {
    const seen: string[] = [];
    let n = 0;
    const url = await serve((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization}`);
      n++;
      // A body split over several writes, and one in ten answered 503.
      res.writeHead(n % 10 === 0 ? 503 : 200, { 'content-type': 'application/json', 'content-length': '2000' });
      res.write('x'.repeat(1000));
      setImmediate(() => res.end('y'.repeat(1000)));
    });
    const result = await pacedLoad({ url: `${url}/v1/x?y=1`, headers: { authorization: 'Bearer k' }, rate: 200, durationMs: 500, connections: 3, warmupMs: 100 });
    // The warm-up's 20 requests reach the server but not the figures.
    expect(seen.length).toBe(120);
    expect(new Set(seen)).toEqual(new Set(['GET /v1/x?y=1 Bearer k']));
    expect(result.sent).toBe(100);
    expect(result.ok + result.non2xx).toBe(100);
    expect(result.non2xx).toBe(10); // requests 21–120 at the server: every tenth is a 503
    expect(result.errors).toBe(0);
    expect(result.p50).toBeGreaterThan(0);
    expect(result.max).toBeGreaterThanOrEqual(result.p99);
  });

  it('counts requests lost with their connections as errors, and still finishes', async () => {
    let n = 0;
    const url = await serve((req, res) => {
      n++;
      if (n > 5) {
        req.socket.destroy(); // the server goes away mid-run
        return;
      }
      res.writeHead(200, { 'content-length': '2' }).end('ok');
    });
    const result = await pacedLoad({ url, headers: {}, rate: 100, durationMs: 300, connections: 2, warmupMs: 0 });
    expect(result.sent).toBe(30);
    expect(result.ok).toBe(5);
    expect(result.ok + result.non2xx + result.errors).toBe(30);
  });
});
