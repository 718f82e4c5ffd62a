import { projectConfig } from '../vitest.shared.ts';

// Cross-process flows: sim + api + worker as real processes against real Postgres and Redis.
export default projectConfig('e2e', { include: ['e2e/**/*.test.ts'], testTimeout: 180_000 });
