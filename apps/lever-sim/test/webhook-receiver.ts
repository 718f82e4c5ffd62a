import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitUntil } from './helpers.js';

/** What Lever POSTs to a webhook. */
export interface LeverWebhookBody {
  token: string;
  triggeredAt: number;
  signature: string;
  event: string;
  data: Record<string, unknown>;
}

export interface Received {
  raw: string;
  body: LeverWebhookBody;
  headers: IncomingHttpHeaders;
  /** Real clock, ms: to measure the gaps between retries. */
  at: number;
  /** Set when the connection closed before this receiver answered (the sender gave up or went away). */
  abandoned?: boolean;
}

/** A status to answer with, or `hang` to never answer (the sim's timeout must end the attempt). */
export type Respond = (index: number, received: Received) => number | 'hang';

/**
 * Checks a delivery as an integrator does (LEVER.md): hex HMAC-SHA256 of token + triggeredAt, keyed with the
 * webhook's signature token, compared in constant time. Written here from the docs, not from the sim's code.
 */
export function verifyLeverSignature(body: LeverWebhookBody, signatureToken: string): boolean {
  if (typeof body.token !== 'string' || typeof body.triggeredAt !== 'number' || typeof body.signature !== 'string') return false;
  const expected = createHmac('sha256', signatureToken).update(body.token + body.triggeredAt).digest();
  const given = Buffer.from(body.signature, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** A webhook endpoint on a free local port, answering as `respond` says and recording every delivery. */
export async function startReceiver(respond: Respond = () => 200) {
  const received: Received[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    let entry: Received | undefined;
    response.on('close', () => {
      if (entry && !response.writableFinished) entry.abandoned = true;
    });
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      entry = { raw, body: JSON.parse(raw) as LeverWebhookBody, headers: request.headers, at: Date.now() };
      const index = received.push(entry) - 1;
      const answer = respond(index, entry!);
      if (answer === 'hang') return;
      response.writeHead(answer, { 'content-type': 'text/plain' }).end('Lever ignores this body');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/lever`,
    received,
    /** Resolves once `count` deliveries arrived; fails after `timeoutMs`. */
    waitFor: (count: number, timeoutMs = 5_000) => waitUntil(() => received.length >= count, `${count} deliveries`, timeoutMs),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type Receiver = Awaited<ReturnType<typeof startReceiver>>;
