// The worker half of paced-load.ts, in plain JavaScript so the worker thread needs no TypeScript loader.
//
// Requests go over raw keep-alive sockets with one pre-built request, and a response is read only as far
// as its status line and Content-Length. Why not node:http's client: it costs tens of microseconds of
// CPU and several objects per request in this thread, on a 2-core box where every cycle it spends is taken
// from the server being measured, and whatever makes it late counts as server latency (latency is measured
// from the due time). The servers measured here (Fastify) always answer with Content-Length.
import net from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';

function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

const HEADER_END = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)/i;

/** One keep-alive connection: one request at a time; `onDone(status)` per response, `onError()` if the socket fails. */
function openConnection(target) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: target.hostname, port: Number(target.port) });
    socket.setNoDelay(true);
    const conn = { socket, busy: false, onDone: undefined, onError: undefined, closed: false };
    let buffered = Buffer.alloc(0);
    let bodyLeft = -1;
    let status = 0;
    socket.on('data', (chunk) => {
      buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
      for (;;) {
        if (bodyLeft < 0) {
          const end = buffered.indexOf(HEADER_END);
          if (end < 0) return;
          const head = buffered.toString('latin1', 0, end);
          status = Number(head.slice(9, 12));
          const length = CONTENT_LENGTH.exec(head);
          if (!length) {
            socket.destroy(new Error('response without Content-Length'));
            return;
          }
          bodyLeft = Number(length[1]);
          buffered = buffered.subarray(end + HEADER_END.length);
        }
        if (buffered.length < bodyLeft) return;
        buffered = buffered.subarray(bodyLeft);
        bodyLeft = -1;
        conn.busy = false;
        const done = conn.onDone;
        conn.onDone = conn.onError = undefined;
        done?.(status);
      }
    });
    let connected = false;
    socket.once('connect', () => {
      connected = true;
      resolve(conn);
    });
    // 'close' always follows 'error': the request in flight fails there, once.
    socket.on('error', (error) => {
      if (!connected) reject(error);
    });
    socket.once('close', () => {
      conn.closed = true;
      if (!conn.busy) return;
      conn.busy = false;
      const failed = conn.onError;
      conn.onError = undefined;
      failed?.();
    });
    conn.send = (request, onDone, onError) => {
      conn.busy = true;
      conn.onDone = onDone;
      conn.onError = onError;
      socket.write(request);
    };
  });
}

async function generate(load, connections, durationMs) {
  const latencies = [];
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  const total = Math.floor((load.rate * durationMs) / 1000);
  const interval = 1000 / load.rate;
  const start = performance.now() + 50;
  let sent = 0;
  let pending = 0;
  /** Due times of requests waiting for a free connection (their wait counts: no coordinated omission). */
  const queue = [];
  let allDone;
  const finished = new Promise((resolve) => (allDone = resolve));

  /** Sends queued requests on idle connections; with every connection gone, the rest count as errors. */
  function pump() {
    while (queue.length > 0) {
      const idle = connections.find((c) => !c.busy && !c.closed);
      if (!idle) break;
      const dueAt = queue.shift();
      idle.send(
        pick(),
        (status) => {
          latencies.push(performance.now() - dueAt);
          if (status >= 200 && status < 300) ok++;
          else non2xx++;
          settle();
        },
        () => {
          errors++;
          settle();
        },
      );
    }
    if (queue.length > 0 && connections.every((c) => c.closed)) {
      errors += queue.length;
      pending -= queue.length;
      queue.length = 0;
      if (pending === 0 && sent >= total) allDone();
    }
  }
  function settle() {
    pending--;
    pump();
    if (pending === 0 && sent >= total) allDone();
  }
  function send(dueAt) {
    pending++;
    queue.push(dueAt);
    pump();
  }

  if (!(load.rate > 0)) return closedLoop(connections, durationMs);
  while (sent < total) {
    const now = performance.now();
    while (sent < total && start + sent * interval <= now) {
      send(start + sent * interval);
      sent++;
    }
    await new Promise((r) => setTimeout(r, Math.max(0, Math.min(1, start + sent * interval - performance.now()))));
  }
  if (pending > 0) await finished;
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

/** Every connection busy all the time for `durationMs`: the maximum rate, latency measured from each send. */
async function closedLoop(connections, durationMs) {
  const latencies = [];
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  let sent = 0;
  const start = performance.now();
  const end = start + durationMs;
  let lanes = 0;
  let allDone;
  const finished = new Promise((resolve) => (allDone = resolve));
  const lane = (conn) => {
    if (conn.closed || performance.now() >= end) {
      if (--lanes === 0) allDone();
      return;
    }
    const sentAt = performance.now();
    sent++;
    conn.send(
      pick(),
      (status) => {
        latencies.push(performance.now() - sentAt);
        if (status >= 200 && status < 300) ok++;
        else non2xx++;
        lane(conn);
      },
      () => {
        errors++;
        lane(conn);
      },
    );
  };
  for (const conn of connections) {
    lanes++;
    lane(conn);
  }
  await finished;
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

const target = new URL(workerData.url);
const headerLines = Object.entries(workerData.headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
// One pre-built GET, or (with `bodies`) one pre-built POST per body, sent in turn: each request can be new
// to the server (a webhook delivery de-duplicated on its token must not be the same one every time).
const get = (path) => Buffer.from(`GET ${path} HTTP/1.1\r\nhost: ${target.host}\r\n${headerLines}\r\n`, 'latin1');
const requests = workerData.paths
  ? workerData.paths.map(get)
  : workerData.bodies
  ? workerData.bodies.map((body) => {
      const bytes = Buffer.from(body, 'utf8');
      return Buffer.concat([
        Buffer.from(`POST ${target.pathname}${target.search} HTTP/1.1\r\nhost: ${target.host}\r\n${headerLines}content-type: application/json\r\ncontent-length: ${bytes.length}\r\n\r\n`, 'latin1'),
        bytes,
      ]);
    })
  : [get(`${target.pathname}${target.search}`)];
let next = 0;
// `paths`: uniformly at random (a realistic spread over many keys); bodies: in turn (each one new to the server).
const pick = workerData.paths ? () => requests[Math.floor(Math.random() * requests.length)] : () => requests[next++ % requests.length];
const connections = await Promise.all(Array.from({ length: workerData.connections }, () => openConnection(target)));
// A warm-up at the same rate, not measured: it opens the keep-alive connections and warms this thread's
// JIT, so neither a TCP handshake nor the generator's own first milliseconds count as server latency (a
// cold start put 40–100 ms on the first few dozen requests of every run, 1 % of a 4 s run: the whole p99).
if (workerData.warmupMs > 0) await generate(workerData, connections, workerData.warmupMs);
parentPort.postMessage({ type: 'measuring' });
const result = await generate(workerData, connections, workerData.durationMs);
for (const c of connections) c.socket.destroy();
parentPort.postMessage({ type: 'result', result });
