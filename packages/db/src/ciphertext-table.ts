import type { Sql } from './sql.js';

/** A table keyed by a uuid `id` whose columns hold ciphertexts of the token cipher. */
export interface CiphertextTableSpec<C extends string> {
  /** For reports. */
  name: string;
  table: string;
  /** Each ciphertext's column name in the cipher's binding, and the SQL column that holds it. */
  columns: Readonly<Record<C, string>>;
  /**
   * An integer column every other write of a row bumps (connections.version): `replace` requires it
   * unchanged too. It never bumps it: the plaintexts do not change, and a bump would make a refresh in
   * flight lose its fenced write, and with it the tokens Lever has just rotated.
   */
  fence?: string;
}

export interface TableRecord<C extends string> {
  row: string;
  ciphertexts: Partial<Record<C, string | null>>;
  fence?: number;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** What a ciphertext starts with: its format and its key id (token-cipher.ts in packages/crypto). */
const CIPHERTEXT_HEAD = String.raw`^v[0-9]+\.[0-9a-f]{16}\.`;

/**
 * The statements `keys reencrypt` and `keys status` need of one table (packages/crypto's CiphertextStore):
 * stale rows in id order, a compare-and-set write of new ciphertexts, a census by format and key. Called by
 * the table's owner (its only writer), which names the table and its columns; identifiers are ours, never input.
 */
export function ciphertextTable<C extends string>(sql: Sql, spec: CiphertextTableSpec<C>) {
  const names = Object.keys(spec.columns) as C[];
  for (const identifier of [spec.table, ...names, ...names.map((c) => spec.columns[c]), ...(spec.fence ? [spec.fence] : [])]) {
    if (!IDENTIFIER.test(identifier)) throw new Error(`not an identifier: ${identifier}`);
  }
  const column = (c: C) => `"${spec.columns[c]}"`;
  const fence = spec.fence ? `"${spec.fence}"` : undefined;

  const selectStale = `
    SELECT t."id"::text AS "row", ${names.map((c, i) => `t.${column(c)} AS "c${i}"`).join(', ')}${fence ? `, t.${fence} AS "fence"` : ''}
      FROM "${spec.table}" t
     WHERE ($1::uuid IS NULL OR t."id" > $1::uuid)
       AND (${names.map((c) => `(t.${column(c)} IS NOT NULL AND NOT starts_with(t.${column(c)}, $3))`).join(' OR ')})
     ORDER BY t."id"
     LIMIT $2`;
  // Every ciphertext column is compared with what was read: a rewrite always changes it (a fresh IV), so
  // this alone catches any write that landed meanwhile; the fence column says so again for connections.
  const update = `
    UPDATE "${spec.table}" t
       SET ${names.map((c, i) => `${column(c)} = v."n${i}"`).join(', ')}
      FROM json_to_recordset($1::json) AS v("row" uuid, ${names.map((_, i) => `"n${i}" text, "o${i}" text`).join(', ')}${fence ? `, "fence" int` : ''})
     WHERE t."id" = v."row"
       AND ${names.map((c, i) => `t.${column(c)} IS NOT DISTINCT FROM v."o${i}"`).join(' AND ')}${fence ? ` AND t.${fence} = v."fence"` : ''}
    RETURNING t."id"::text AS "row"`;
  const census = `
    SELECT c."column",
           CASE WHEN c."value" ~ '${CIPHERTEXT_HEAD}' THEN split_part(c."value", '.', 1) ELSE '?' END AS "format",
           CASE WHEN c."value" ~ '${CIPHERTEXT_HEAD}' THEN split_part(c."value", '.', 2) ELSE '' END AS "keyId",
           count(*)::int AS "count"
      FROM "${spec.table}" t
     CROSS JOIN LATERAL (VALUES ${names.map((c) => `('${c}', t.${column(c)})`).join(', ')}) AS c("column", "value")
     WHERE c."value" IS NOT NULL
     GROUP BY 1, 2, 3
     ORDER BY 1, 2, 3`;

  return {
    name: spec.name,
    columns: names,

    async stale(cursor: string | null, limit: number, currentPrefix: string): Promise<{ records: Array<TableRecord<C>>; next: string | null }> {
      const rows = await sql.query<Record<string, string | number | null>>(selectStale, [cursor, limit, currentPrefix]);
      const records = rows.map((r) => ({
        row: r.row as string,
        ciphertexts: Object.fromEntries(names.map((c, i) => [c, r[`c${i}`] as string | null])) as Partial<Record<C, string | null>>,
        ...(fence ? { fence: r.fence as number } : {}),
      }));
      return { records, next: records.length === limit ? records[records.length - 1]!.row : null };
    },

    async replace(changes: ReadonlyArray<{ record: TableRecord<C>; ciphertexts: Partial<Record<C, string | null>> }>): Promise<boolean[]> {
      const batch = changes.map(({ record, ciphertexts }) => ({
        row: record.row,
        fence: record.fence,
        ...Object.fromEntries(names.flatMap((c, i) => [[`n${i}`, ciphertexts[c] ?? null], [`o${i}`, record.ciphertexts[c] ?? null]])),
      }));
      const written = new Set((await sql.query<{ row: string }>(update, [JSON.stringify(batch)])).map((r) => r.row));
      return changes.map(({ record }) => written.has(record.row));
    },

    async census(): Promise<Array<{ column: C; format: string; keyId: string; count: number }>> {
      return sql.query(census);
    },
  };
}
