import { CURRENT_FORMAT, DecryptionError, type CiphertextColumn, type DecryptionFailure, type TokenCipher } from './token-cipher.js';

/** A row (or Redis value) holding ciphertexts, as its store read it. */
export interface CiphertextRecord {
  /** The row the ciphertexts are bound to. */
  row: string;
  /** Each column's ciphertext as read (null: empty). */
  ciphertexts: Partial<Record<CiphertextColumn, string | null>>;
}

/** How many ciphertexts of one column are in one format under one key. */
export interface CensusEntry {
  column: CiphertextColumn;
  /** `v1`, `v2`, or `?` for a value that is not a ciphertext at all. */
  format: string;
  keyId: string;
  count: number;
}

/**
 * One place ciphertexts are kept (a table, the Redis stash), as its owner exposes it to `reencryptAll`. The
 * owner stays the writer: it decides what "unchanged since read" means for its rows.
 */
export interface CiphertextStore {
  /** For reports: `connections`, `webhook endpoints`... */
  readonly name: string;
  readonly columns: readonly CiphertextColumn[];
  /**
   * Up to `limit` records holding a ciphertext that does not start with `currentPrefix`, after `cursor`
   * (null: from the start), and the cursor to go on from (null: the store has been walked through).
   */
  stale(cursor: string | null, limit: number, currentPrefix: string): Promise<{ records: CiphertextRecord[]; next: string | null }>;
  /**
   * Writes each record's new ciphertexts only where the stored record is still exactly as `stale` read it
   * (compare-and-set), so a refresh or a rotation that landed meanwhile is never overwritten. Whether each
   * was written, in order.
   */
  replace(changes: ReadonlyArray<{ record: CiphertextRecord; ciphertexts: Partial<Record<CiphertextColumn, string | null>> }>): Promise<boolean[]>;
  census(): Promise<CensusEntry[]>;
}

/** What a value says about itself: its format and key id, or `?` when it is not a ciphertext. */
export function describeCiphertext(value: string): { format: string; keyId: string } {
  const match = /^(v[0-9]+)\.([0-9a-f]{16})\./.exec(value);
  return match ? { format: match[1]!, keyId: match[2]! } : { format: '?', keyId: '' };
}

export interface ReencryptFailure {
  row: string;
  column: CiphertextColumn;
  reason: DecryptionFailure;
}

export interface StoreReport {
  name: string;
  /** Ciphertexts rewritten under the current key and format. */
  reencrypted: number;
  /** Records a writer changed between our read and our write, on the last pass (left to that writer's value). */
  changedMeanwhile: number;
  /** Ciphertexts that did not decrypt (each once, however many passes met it). */
  failed: ReencryptFailure[];
}

export interface ReencryptOptions {
  /** Records read and written per statement. Default 500. */
  batchSize?: number;
  /** Walks of a store while records keep changing under it. Default 3. */
  maxPasses?: number;
  /** After each batch that had something to write. */
  onBatch?: (store: string, reencryptedSoFar: number) => void;
}

/**
 * Moves every ciphertext of every store to the current key and format. Idempotent (only stale ciphertexts
 * are read; a second run finds none) and resumable (each batch commits on its own; a run stopped halfway
 * leaves every value readable, and the next run picks up what is left). A ciphertext that does not decrypt
 * is reported, left as it is, and does not stop the rest.
 */
export async function reencryptAll(cipher: TokenCipher, stores: readonly CiphertextStore[], options: ReencryptOptions = {}): Promise<StoreReport[]> {
  const reports: StoreReport[] = [];
  for (const store of stores) reports.push(await reencryptStore(cipher, store, options));
  return reports;
}

async function reencryptStore(cipher: TokenCipher, store: CiphertextStore, options: ReencryptOptions): Promise<StoreReport> {
  const batchSize = options.batchSize ?? 500;
  const failed = new Map<string, ReencryptFailure>();
  let reencrypted = 0;
  let changedMeanwhile = 0;
  for (let pass = 0; pass < (options.maxPasses ?? 3); pass++) {
    changedMeanwhile = 0;
    let cursor: string | null = null;
    do {
      const { records, next } = await store.stale(cursor, batchSize, cipher.currentPrefix);
      const changes = records.flatMap((record) => {
        const { ciphertexts, moved } = reencryptRecord(cipher, record, failed);
        return moved > 0 ? [{ record, ciphertexts, moved }] : [];
      });
      if (changes.length > 0) {
        const written = await store.replace(changes);
        changes.forEach((change, i) => {
          if (written[i]) reencrypted += change.moved;
          else changedMeanwhile += 1;
        });
        options.onBatch?.(store.name, reencrypted);
      }
      cursor = next;
    } while (cursor !== null);
    if (changedMeanwhile === 0) break;
  }
  return { name: store.name, reencrypted, changedMeanwhile, failed: [...failed.values()] };
}

/** The record's ciphertexts with every stale one re-encrypted (the others as read); failures go to `failed`. */
function reencryptRecord(cipher: TokenCipher, record: CiphertextRecord, failed: Map<string, ReencryptFailure>) {
  const ciphertexts = { ...record.ciphertexts };
  let moved = 0;
  for (const [column, value] of Object.entries(record.ciphertexts) as Array<[CiphertextColumn, string | null]>) {
    if (value === null || !cipher.isStale(value)) continue;
    try {
      ciphertexts[column] = cipher.reencrypt(value, { row: record.row, column });
      moved += 1;
    } catch (error) {
      if (!(error instanceof DecryptionError)) throw error;
      failed.set(`${record.row}:${column}`, { row: record.row, column, reason: error.reason });
    }
  }
  return { ciphertexts, moved };
}

export interface KeyUsage {
  total: number;
  /** In the current format under the current key. */
  current: number;
  /** Everything else: what `reencryptAll` would move (or cannot). */
  stale: number;
  /** v1: bound to the row only. */
  legacy: number;
  /** Values that are not ciphertexts at all. */
  unreadable: number;
  /** Ciphertexts per key id, configured or not. */
  keys: Array<{ keyId: string; role: 'current' | 'previous' | 'not configured'; count: number }>;
}

/** What the census says about the configured keys: which one is still in use, by how many ciphertexts. */
export function keyUsage(census: readonly CensusEntry[], keyIds: TokenCipher['keyIds']): KeyUsage {
  const perKey = new Map<string, number>([[keyIds.current, 0], ...keyIds.previous.map((id) => [id, 0] as const)]);
  const usage = { total: 0, current: 0, stale: 0, legacy: 0, unreadable: 0 };
  for (const entry of census) {
    usage.total += entry.count;
    if (entry.format === '?') {
      usage.unreadable += entry.count;
    } else {
      perKey.set(entry.keyId, (perKey.get(entry.keyId) ?? 0) + entry.count);
      if (entry.format === 'v1') usage.legacy += entry.count;
    }
    if (entry.format === CURRENT_FORMAT && entry.keyId === keyIds.current) usage.current += entry.count;
  }
  usage.stale = usage.total - usage.current;
  const roleOf = (id: string) => (id === keyIds.current ? 'current' : keyIds.previous.includes(id) ? 'previous' : 'not configured');
  return { ...usage, keys: [...perKey].map(([keyId, count]) => ({ keyId, role: roleOf(keyId), count })) };
}
