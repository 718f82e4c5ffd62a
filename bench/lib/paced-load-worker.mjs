// The worker half of paced-load.ts, in plain JavaScript so the worker thread needs no TypeScript loader.
import http from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';

function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function generate(load, agent, durationMs) {
  const target = new URL(load.url);
  const latencies = [];
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  const total = Math.floor((load.rate * durationMs) / 1000);
  const interval = 1000 / load.rate;
  const start = performance.now() + 50;
  let sent = 0;
  const inflight = new Set();

  function send(dueAt) {
    const p = new Promise((resolve) => {
      const req = http.request(
        { agent, host: target.hostname, port: target.port, path: target.pathname + target.search, headers: load.headers },
        (res) => {
          res.resume();
          res.on('end', () => {
            latencies.push(performance.now() - dueAt);
            if (res.statusCode >= 200 && res.statusCode < 300) ok++;
            else non2xx++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end();
    });
    inflight.add(p);
    void p.then(() => inflight.delete(p));
  }

  while (sent < total) {
    const now = performance.now();
    while (sent < total && start + sent * interval <= now) {
      send(start + sent * interval);
      sent++;
    }
    await new Promise((r) => setTimeout(r, Math.max(0, Math.min(1, start + sent * interval - performance.now()))));
  }
  await Promise.all([...inflight]);
  const elapsed = performance.now() - start;
  latencies.sort((a, b) => a - b);
  return {
    sent,
    ok,
    non2xx,
    errors,
    rps: (ok + non2xx) / (elapsed / 1000),
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    max: latencies.at(-1) ?? NaN,
  };
}

// A warm-up at the same rate, not measured: it opens the keep-alive connections and warms this thread's
// JIT, so neither a TCP handshake nor the generator's own first milliseconds count as server latency (a
// cold start put 40–100 ms on the first few dozen requests of every run, 1 % of a 4 s run: the whole p99).
const agent = new http.Agent({ keepAlive: true, maxSockets: workerData.connections });
if (workerData.warmupMs > 0) await generate(workerData, agent, workerData.warmupMs);
const result = await generate(workerData, agent, workerData.durationMs);
agent.destroy();
parentPort.postMessage(result);
