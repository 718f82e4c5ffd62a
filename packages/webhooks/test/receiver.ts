import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  headers: Record<string, string>;
  body: string;
  at: number;
}

/** What the receiver answers: a status (with headers), or 'hold' to keep the request open until the receiver closes. */
export type Responder = (request: ReceivedWebhook, index: number) => number | { status: number; headers: Record<string, string> } | 'hold';

/** A real HTTP webhook receiver on 127.0.0.1:<random port>, recording every request it gets. */
export async function startReceiver(respond: Responder = () => 200) {
  const received: ReceivedWebhook[] = [];
  const held = new Set<http.ServerResponse>();
  let responder = respond;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const entry = {
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')])),
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      };
      received.push(entry);
      const answer = responder(entry, received.length - 1);
      if (answer === 'hold') {
        held.add(res);
        return;
      }
      const { status, headers } = typeof answer === 'number' ? { status: answer, headers: {} } : answer;
      res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    setResponder(next: Responder) {
      responder = next;
    },
    /** Event ids received, in order (duplicates included). */
    ids: () => received.map((r) => r.headers['webhook-id']!),
    async close() {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type Receiver = Awaited<ReturnType<typeof startReceiver>>;
