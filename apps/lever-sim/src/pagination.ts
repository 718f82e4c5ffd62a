/** Lever's list paging: `limit` 1..100 (default 100) and an opaque `offset` token from the previous `next`. */
export const MAX_LIMIT = 100;

export type Page<T> = { data: T[]; hasNext: boolean; next?: string };
export type PageResult<T> = { ok: true; page: Page<T> } | { ok: false; message: string };

/** Opaque on purpose, like Lever's: clients must pass `next` back, never compute offsets. */
function encodeOffset(index: number): string {
  return Buffer.from(`o:${index}`).toString('base64url');
}

function decodeOffset(token: string): number | undefined {
  const match = /^o:(\d{1,9})$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
  return match ? Number(match[1]) : undefined;
}

export function paginate<T>(items: readonly T[], query: { limit?: string; offset?: string }): PageResult<T> {
  let limit = MAX_LIMIT;
  if (query.limit !== undefined) {
    limit = Number(query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) return { ok: false, message: 'limit must be an integer from 1 to 100' };
  }
  let start = 0;
  if (query.offset !== undefined) {
    const decoded = decodeOffset(query.offset);
    if (decoded === undefined || decoded > items.length) return { ok: false, message: 'Invalid offset token' };
    start = decoded;
  }
  const end = Math.min(items.length, start + limit);
  const hasNext = end < items.length;
  return { ok: true, page: { data: items.slice(start, end), hasNext, ...(hasNext ? { next: encodeOffset(end) } : {}) } };
}
