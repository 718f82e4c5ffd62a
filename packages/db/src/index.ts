export { createDatabase, type Database, type DatabaseOptions, type Db } from './client.js';
export { isDatabaseUnavailable, isNotFound, isUniqueViolation, prismaErrorCode } from './errors.js';
export { Prisma, PrismaClient } from './generated/prisma/client.js';
export type {
  ApiKey,
  ConnectSession,
  Connection,
  Event,
  Tenant,
  TokenRead,
} from './generated/prisma/client.js';
export { ConnectionStatus, LeverEnvironment } from './generated/prisma/enums.js';
export { ciphertextTable, type CiphertextTableSpec, type TableRecord } from './ciphertext-table.js';
export { applyMigrations, migrationsDir } from './migrations.js';
export { inTransaction, SQL_NOW, sqlOf, ts, type Sql } from './sql.js';
export { insertEventOnce, insertEvents, insertEventsFrom, outboxCte, outboxJson, outboxRows, OUTBOX_RECORD, writeEvent, type OutboxEvent } from './outbox.js';
