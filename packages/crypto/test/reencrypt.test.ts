import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  createTokenCipher,
  describeCiphertext,
  keyId,
  keyUsage,
  reencryptAll,
  type CensusEntry,
  type CiphertextColumn,
  type CiphertextStore,
} from '../src/index.js';

type Rows = Map<string, Partial<Record<CiphertextColumn, string | null>>>;

/** A store over a Map, with the contract of the real ones: id order, compare-and-set on every column. */
function memoryStore(rows: Rows, options: { beforeReplace?: () => void } = {}): CiphertextStore & { statements: number } {
  const store = {
    name: 'memory',
    columns: ['accessToken', 'refreshToken'] as CiphertextColumn[],
    statements: 0,
    async stale(cursor: string | null, limit: number, currentPrefix: string) {
      store.statements += 1;
      const records = [...rows.keys()]
        .sort()
        .filter((row) => cursor === null || row > cursor)
        .filter((row) => Object.values(rows.get(row)!).some((v) => v !== null && v !== undefined && !v.startsWith(currentPrefix)))
        .slice(0, limit)
        .map((row) => ({ row, ciphertexts: { ...rows.get(row)! } }));
      return { records, next: records.length === limit ? records[records.length - 1]!.row : null };
    },
    async replace(changes: Parameters<CiphertextStore['replace']>[0]) {
      options.beforeReplace?.();
      return changes.map(({ record, ciphertexts }) => {
        const now = rows.get(record.row)!;
        const unchanged = Object.entries(record.ciphertexts).every(([column, value]) => now[column as CiphertextColumn] === value);
        if (unchanged) rows.set(record.row, { ...now, ...ciphertexts });
        return unchanged;
      });
    },
    async census() {
      return [];
    },
  };
  return store;
}

describe('reencryptAll', () => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  const before = createTokenCipher({ currentKey: oldKey });
  const cipher = createTokenCipher({ currentKey: newKey, previousKeys: [oldKey] });
  const seal = (c: typeof cipher, row: string, column: CiphertextColumn) => c.encrypt(`${column}@${row}`, { row, column });

  it('moves every stale ciphertext in batches, leaves current ones alone, and is idempotent', async () => {
    const rows: Rows = new Map();
    for (const row of ['r1', 'r2', 'r3', 'r4', 'r5']) rows.set(row, { accessToken: seal(before, row, 'accessToken'), refreshToken: seal(before, row, 'refreshToken') });
    rows.set('r6', { accessToken: seal(cipher, 'r6', 'accessToken'), refreshToken: null });
    const current = rows.get('r6')!.accessToken;
    const store = memoryStore(rows);

    const [report] = await reencryptAll(cipher, [store], { batchSize: 2 });

    expect(report).toEqual({ name: 'memory', reencrypted: 10, changedMeanwhile: 0, failed: [] });
    expect(store.statements).toBe(3);
    for (const [row, columns] of rows) {
      for (const [column, value] of Object.entries(columns)) {
        if (value === null) continue;
        expect(value!.startsWith(cipher.currentPrefix)).toBe(true);
        expect(cipher.decrypt(value!, { row, column: column as CiphertextColumn })).toBe(`${column}@${row}`);
      }
    }
    expect(rows.get('r6')!.accessToken).toBe(current);
    const again = await reencryptAll(cipher, [store], { batchSize: 2 });
    expect(again[0]).toMatchObject({ reencrypted: 0, failed: [] });
  });

  it('reports what does not decrypt once, by row, column and reason, and moves the rest of the row', async () => {
    const lost = createTokenCipher({ currentKey: randomBytes(32) });
    const rows: Rows = new Map([
      ['a', { accessToken: seal(lost, 'a', 'accessToken'), refreshToken: seal(before, 'a', 'refreshToken') }],
      ['b', { accessToken: 'garbage', refreshToken: seal(before, 'a', 'refreshToken') }],
      ['c', { accessToken: seal(before, 'c', 'accessToken') }],
    ]);
    // A writer rewrites row c once, between our read and our write: the store is walked a second time,
    // and meets rows a and b again.
    let writes = 0;
    const store = memoryStore(rows, {
      beforeReplace: () => {
        if ((writes += 1) === 1) rows.set('c', { accessToken: seal(before, 'c', 'accessToken') });
      },
    });

    const [report] = await reencryptAll(cipher, [store], { maxPasses: 3 });

    expect(report!.failed).toEqual([
      { row: 'a', column: 'accessToken', reason: 'unknown_key' },
      { row: 'b', column: 'accessToken', reason: 'malformed' },
      // Row b's refresh token was sealed for row a: moving it would launder it into row b.
      { row: 'b', column: 'refreshToken', reason: 'not_authentic' },
    ]);
    expect(report).toMatchObject({ reencrypted: 2, changedMeanwhile: 0 });
    expect(cipher.decrypt(rows.get('a')!.refreshToken!, { row: 'a', column: 'refreshToken' })).toBe('refreshToken@a');
    expect(rows.get('a')!.accessToken!.startsWith(cipher.currentPrefix)).toBe(false);
    expect(rows.get('c')!.accessToken!.startsWith(cipher.currentPrefix)).toBe(true);
    expect(writes).toBe(2);
  });

  it('walks again while writers change rows under it, and says how many it had to leave', async () => {
    const rows: Rows = new Map([['x', { accessToken: seal(before, 'x', 'accessToken') }]]);
    // A writer that rewrites the row in the old form before each of our writes (an old-code process).
    const store = memoryStore(rows, { beforeReplace: () => rows.set('x', { accessToken: seal(before, 'x', 'accessToken') }) });

    const [report] = await reencryptAll(cipher, [store], { maxPasses: 2 });

    expect(report).toMatchObject({ reencrypted: 0, changedMeanwhile: 1 });
    expect(store.statements).toBe(2);
  });
});

describe('keyUsage', () => {
  const current = keyId(randomBytes(32));
  const previous = keyId(randomBytes(32));
  const stranger = keyId(randomBytes(32));
  const entry = (format: string, id: string, count: number, column: CiphertextColumn = 'accessToken'): CensusEntry => ({ column, format, keyId: id, count });

  const cases: Array<[string, CensusEntry[], Partial<ReturnType<typeof keyUsage>>]> = [
    ['an empty deployment', [], { total: 0, current: 0, stale: 0, keys: [{ keyId: current, role: 'current', count: 0 }, { keyId: previous, role: 'previous', count: 0 }] }],
    [
      'an upgrade not yet re-encrypted',
      [entry('v1', previous, 8), entry('v1', previous, 8, 'refreshToken'), entry('v2', current, 2)],
      { total: 18, current: 2, stale: 16, legacy: 16, keys: [{ keyId: current, role: 'current', count: 2 }, { keyId: previous, role: 'previous', count: 16 }] },
    ],
    [
      'v1 under the current key (no key rotation at the upgrade): current key, still stale',
      [entry('v1', current, 3), entry('v2', current, 5)],
      { total: 8, current: 5, stale: 3, legacy: 3, keys: [{ keyId: current, role: 'current', count: 8 }, { keyId: previous, role: 'previous', count: 0 }] },
    ],
    [
      'a key nobody configured and a value that is no ciphertext',
      [entry('v2', stranger, 2), entry('?', '', 1)],
      { total: 3, current: 0, stale: 3, unreadable: 1, keys: [{ keyId: current, role: 'current', count: 0 }, { keyId: previous, role: 'previous', count: 0 }, { keyId: stranger, role: 'not configured', count: 2 }] },
    ],
  ];
  it.each(cases)('%s', (_name, census, expected) => {
    expect(keyUsage(census, { current, previous: [previous] })).toMatchObject(expected);
  });

  it('reads a ciphertext’s format and key id, and nothing from other values', () => {
    expect(describeCiphertext(`v2.${current}.iv.tag.data`)).toEqual({ format: 'v2', keyId: current });
    expect(describeCiphertext('x'.repeat(600))).toEqual({ format: '?', keyId: '' });
  });
});
