import type { PrismaClient } from '@lever-connect/db';
import type { Logger } from 'pino';

export interface TokenReadRecord {
  connectionId: string;
  apiKeyId: string | null;
  requestId: string;
  refreshed: boolean;
}

/**
 * Audit trail of access tokens handed out (never the token). Writes are batched off the hot path: the
 * token endpoint must not wait for an INSERT per read. A crash loses at most the last flush interval.
 */
export function createTokenAudit(deps: { prisma: PrismaClient; log: Logger; flushMs?: number; maxBatch?: number }) {
  const flushMs = deps.flushMs ?? 250;
  const maxBatch = deps.maxBatch ?? 500;
  let buffer: Array<TokenReadRecord & { createdAt: Date }> = [];
  let timer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> = Promise.resolve();

  async function writeBatch(batch: typeof buffer) {
    try {
      await deps.prisma.tokenRead.createMany({ data: batch });
    } catch (err) {
      deps.log.error({ err, lost: batch.length }, 'token-read audit batch could not be written');
    }
  }

  function flush(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (buffer.length === 0) return flushing;
    const batch = buffer;
    buffer = [];
    flushing = flushing.then(() => writeBatch(batch));
    return flushing;
  }

  return {
    record(entry: TokenReadRecord) {
      buffer.push({ ...entry, createdAt: new Date() });
      if (buffer.length >= maxBatch) void flush();
      else if (!timer) {
        timer = setTimeout(() => void flush(), flushMs);
        timer.unref();
      }
    },
    flush,
  };
}

export type TokenAudit = ReturnType<typeof createTokenAudit>;
