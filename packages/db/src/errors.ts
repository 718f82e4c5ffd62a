/** Prisma error codes we translate into domain outcomes, so driver errors never reach a handler. */
export function prismaErrorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return undefined;
}

export const isUniqueViolation = (error: unknown) => prismaErrorCode(error) === 'P2002';
export const isNotFound = (error: unknown) => prismaErrorCode(error) === 'P2025';

/** Prisma's codes for "the server is not there or not answering" (P1xxx: connection; P2024: pool timeout). */
const UNAVAILABLE_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);
/** The pg driver adapter's error kinds for the same situations (raw queries report them under P2010). */
const UNAVAILABLE_ADAPTER_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections', 'DatabaseDoesNotExist']);
/** SQLSTATEs a restarting or shutting-down server answers with. */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '08000', '08001', '08003', '08006']);

/**
 * True when an error means Postgres is unreachable (down, restarting, pool exhausted) rather than that the
 * query was wrong: an outage to wait out (503), never a bug (500).
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { name?: string; code?: unknown; message?: unknown; meta?: { driverAdapterError?: { cause?: { kind?: string; originalCode?: string } } } };
  if (e.name === 'PrismaClientInitializationError') return true;
  const code = prismaErrorCode(error);
  if (code && (UNAVAILABLE_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code))) return true;
  const cause = e.meta?.driverAdapterError?.cause;
  if (cause?.kind && UNAVAILABLE_ADAPTER_KINDS.has(cause.kind)) return true;
  if (cause?.originalCode && UNAVAILABLE_SQLSTATES.has(cause.originalCode)) return true;
  // Errors straight from pg (the hot paths query the pool directly).
  return code === 'ECONNREFUSED' || code === 'ECONNRESET' || /Connection terminated|timeout exceeded when trying to connect/i.test(String(e.message ?? ''));
}
