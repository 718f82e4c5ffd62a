import { sqlOf, type Database } from '@lever-connect/db';
import type { Logger } from 'pino';

export interface TokenReadRecord {
  connectionId: string;
  apiKeyId: string | null;
  requestId: string;
  refreshed: boolean;
}

export interface TokenRead {
  /** Stable id of the read: `<batch seq>.<position in the batch>`; also the pagination cursor. */
  id: string;
  apiKeyId: string | null;
  requestId: string;
  refreshed: boolean;
  readAt: Date;
}

/** Records kept while Postgres refuses them; beyond this the oldest are dropped (and counted in the log). */
const MAX_BUFFERED = 100_000;
export const TOKEN_READ_CURSOR = /^([0-9]{1,18})\.([0-9]{1,9})$/;

interface Buffered extends TokenReadRecord {
  /** ms since the epoch (formatted when the batch is written, off the request path). */
  readAt: number;
}

/**
 * Audit trail of access tokens handed out (never the token). Reads are buffered and written every
 * `flushMs` as one row per (connection, API key) holding that interval's reads in order — the token
 * endpoint is the hottest path, and a row (with its index entries) per read cost it a third of its
 * throughput. A batch Postgres refuses is kept and retried with the next one (up to MAX_BUFFERED reads);
 * what a crash can lose is the last flush interval.
 */
export function createTokenAudit(deps: { database: Pick<Database, 'pool'>; log: Logger; flushMs?: number; maxBatch?: number }) {
  const sql = sqlOf(deps.database.pool);
  const flushMs = deps.flushMs ?? 250;
  const maxBatch = deps.maxBatch ?? 5_000;
  let buffer: Buffered[] = [];
  let timer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> = Promise.resolve();

  function schedule() {
    if (timer || buffer.length === 0) return;
    timer = setTimeout(() => void flush(), flushMs);
    timer.unref();
  }

  async function writeBatch(batch: Buffered[]) {
    const groups = new Map<string, { connectionId: string; apiKeyId: string | null; requestIds: string[]; readAt: string[]; refreshed: boolean[] }>();
    for (const r of batch) {
      const key = `${r.connectionId}|${r.apiKeyId ?? ''}`;
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { connectionId: r.connectionId, apiKeyId: r.apiKeyId, requestIds: [], readAt: [], refreshed: [] }));
      g.requestIds.push(r.requestId);
      g.readAt.push(new Date(r.readAt).toISOString());
      g.refreshed.push(r.refreshed);
    }
    try {
      // One JSON parameter (serialized natively, parsed by Postgres): pg's per-element array escaping showed
      // up in the token endpoint's profile.
      await sql.query(
        `INSERT INTO "token_reads" ("connectionId", "apiKeyId", "requestIds", "readAt", "refreshed")
         SELECT r."connectionId", r."apiKeyId", r."requestIds", r."readAt", r."refreshed"
           FROM json_to_recordset($1::json)
             AS r("connectionId" uuid, "apiKeyId" uuid, "requestIds" text[], "readAt" timestamp(3)[], "refreshed" boolean[])`,
        [JSON.stringify([...groups.values()])],
      );
    } catch (err) {
      // Keep the reads for the next flush, oldest first.
      buffer = [...batch, ...buffer];
      const over = buffer.length - MAX_BUFFERED;
      if (over > 0) buffer.splice(0, over);
      deps.log.error({ err, kept: buffer.length, lost: Math.max(0, over) }, 'token-read audit batch could not be written; retrying');
      schedule();
    }
  }

  function flush(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (buffer.length === 0) return flushing;
    const batch = buffer.length <= maxBatch ? buffer : buffer.slice(0, maxBatch);
    buffer = buffer.length <= maxBatch ? [] : buffer.slice(maxBatch);
    flushing = flushing.then(() => writeBatch(batch));
    if (buffer.length > 0) schedule();
    return flushing;
  }

  return {
    record(entry: TokenReadRecord) {
      buffer.push({ connectionId: entry.connectionId, apiKeyId: entry.apiKeyId, requestId: entry.requestId, refreshed: entry.refreshed, readAt: Date.now() });
      if (buffer.length >= maxBatch) void flush();
      else schedule();
    },

    /** Writes what is buffered (before a listing, at shutdown); bounded, since with Postgres down every batch comes back. */
    async flush() {
      for (let rounds = Math.ceil(buffer.length / maxBatch) + 1; buffer.length > 0 && rounds > 0; rounds--) await flush();
      await flushing;
    },

    /** A connection's reads, newest first; `cursor` is the id of the last read of the previous page. */
    async list(connectionId: string, options: { limit: number; cursor?: string | undefined }): Promise<{ data: TokenRead[]; nextCursor: string | null }> {
      const at = options.cursor ? TOKEN_READ_CURSOR.exec(options.cursor) : null;
      const rows = await sql.query<{ seq: string; ord: string; apiKeyId: string | null; requestId: string; refreshed: boolean; readAt: Date }>(
        `SELECT r."seq", u."ord", r."apiKeyId", u."requestId", u."refreshed", u."readAt"
           FROM "token_reads" r
           CROSS JOIN LATERAL unnest(r."requestIds", r."readAt", r."refreshed") WITH ORDINALITY AS u("requestId", "readAt", "refreshed", "ord")
          WHERE r."connectionId" = $1 ${at ? `AND (r."seq" < $3 OR (r."seq" = $3 AND u."ord" < $4))` : ''}
          ORDER BY r."seq" DESC, u."ord" DESC
          LIMIT $2`,
        at ? [connectionId, options.limit + 1, at[1], at[2]] : [connectionId, options.limit + 1],
      );
      const page = rows.slice(0, options.limit).map((r) => ({
        id: `${r.seq}.${r.ord}`,
        apiKeyId: r.apiKeyId,
        requestId: r.requestId,
        refreshed: r.refreshed,
        readAt: r.readAt,
      }));
      return { data: page, nextCursor: rows.length > options.limit ? page[page.length - 1]!.id : null };
    },
  };
}

export type TokenAudit = ReturnType<typeof createTokenAudit>;
