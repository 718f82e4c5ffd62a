import { createHash } from 'node:crypto';
import pg from 'pg';

/**
 * Plain parameterized SQL over the same pg pool Prisma uses, for the hot paths only (the token read, the
 * refresh's lease, fenced write and outbox insert, the token-read audit). Why not Prisma there: with the
 * offline JS engine (engineType "client", Prisma 6.19) every query is compiled by a WASM query compiler,
 * ~1 ms of CPU per call — five such calls per refresh capped one core at ~200 refreshes/s (bench/prisma-probe.ts).
 * The same statement through pg costs ~0.15 ms. Everything else stays on Prisma.
 */
export interface Sql {
  query<R>(text: string, values?: readonly unknown[]): Promise<R[]>;
}

const TIMESTAMP_WITHOUT_TIME_ZONE = 1114;

/**
 * Prisma stores `DateTime` as `timestamp(3)` holding UTC. pg's default parser reads such values in the
 * process's local time zone; read them as UTC, as Prisma does. (Write them as ISO strings: see `ts()`.)
 */
const utcTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === TIMESTAMP_WITHOUT_TIME_ZONE) return (value: string) => new Date(`${value.replace(' ', 'T')}Z`);
    return pg.types.getTypeParser(oid, format as 'text');
  }) as pg.CustomTypesConfig['getTypeParser'],
};

/** A timestamp parameter: an ISO string in UTC (Postgres ignores an offset written into `timestamp`). */
export const ts = (date: Date | null | undefined): string | null => (date ? date.toISOString() : null);

/** The database's clock as a UTC `timestamp` (Prisma's columns have no time zone). */
export const SQL_NOW = `timezone('UTC', now())`;

/**
 * Every hot-path statement is a named prepared statement: Postgres parses and plans it once per pooled
 * connection instead of on every call (the refresh's CTEs are long), and the wire carries only the bind.
 * The texts are a small fixed set (built by our own code, never from input), so the names stay bounded.
 */
const statementNames = new Map<string, string>();
function statementName(text: string): string {
  let name = statementNames.get(text);
  if (!name) {
    name = `lc_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    statementNames.set(text, name);
  }
  return name;
}

export function sqlOf(client: pg.Pool | pg.PoolClient): Sql {
  return {
    async query<R>(text: string, values: readonly unknown[] = []) {
      const result = await client.query({ name: statementName(text), text, values: values as unknown[], types: utcTypes });
      return result.rows as R[];
    },
  };
}

/** Runs `fn` in one transaction on one pooled connection; rolls back on any error. */
export async function inTransaction<T>(pool: pg.Pool, fn: (sql: Sql) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // A checked-out client is ours to listen to: the pool only listens to idle ones. When the connection
  // drops between two statements (Postgres restarted, a backend terminated), pg emits 'error' on the
  // client, and an 'error' nobody listens to kills the process (it did: a worker in the Postgres-outage
  // chaos scenario). The next statement then fails, and the transaction with it.
  let lost: Error | undefined;
  const onError = (error: Error) => {
    lost ??= error;
  };
  client.on('error', onError);
  let broken = false;
  try {
    await client.query('BEGIN');
    const result = await fn(sqlOf(client));
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {
      // The connection itself failed: never hand it back to the pool.
      broken = true;
    });
    throw error;
  } finally {
    client.removeListener('error', onError);
    client.release(broken || lost !== undefined);
  }
}
