export { ADMIN_DATABASE_URL, createTestDatabase, dropDatabase, type TestDatabase } from './database.js';
export { insertConnectionRow } from './connection-row.js';
export { legacyCiphertext } from './legacy-ciphertext.js';
export { deleteRedisPrefix, freePort, randomEncryptionKey, randomRedisPrefix, TEST_REDIS_URL, waitFor } from './misc.js';
export { APP_ENTRIES, LOG_DIR, ROOT, startApp, type ManagedProcess } from './processes.js';
export {
  startTestStack,
  type InProcessSim,
  type SimChoice,
  type SimOf,
  type StartSim,
  type TestStack,
  type TestStackOptions,
} from './stack.js';
