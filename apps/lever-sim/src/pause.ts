import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyReply } from 'fastify';

/**
 * Waits `ms`, but stops early when the client hangs up or the simulator closes: a held "timeout" request
 * must never keep `app.close()` (or a test run) waiting for 30 s.
 */
export async function pause(ms: number, reply: FastifyReply, shutdown: AbortSignal): Promise<void> {
  if (ms <= 0) return;
  const hungUp = new AbortController();
  const onClose = () => hungUp.abort();
  reply.raw.once('close', onClose);
  try {
    await sleep(ms, undefined, { signal: AbortSignal.any([hungUp.signal, shutdown]) });
  } catch {
    // Aborted: the client left or the simulator is closing; either way stop waiting.
  } finally {
    reply.raw.off('close', onClose);
  }
}

/** Drops the TCP connection without an HTTP answer, like a load balancer reset or a lost response. */
export function destroyConnection(reply: FastifyReply): void {
  reply.hijack();
  reply.raw.socket?.destroy();
}
