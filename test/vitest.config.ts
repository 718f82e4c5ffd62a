import { projectConfig } from '../vitest.shared.ts';

// Cross-process flows: sim + api + worker as real processes against real Postgres and Redis; the smoke size
// of the reliability suite (test/chaos/smoke.test.ts) and its arithmetic (harness.test.ts); the security suite (test/security).
export default projectConfig('e2e', {
  include: ['e2e/**/*.test.ts', 'chaos/smoke.test.ts', 'chaos/harness.test.ts', 'security/**/*.test.ts', 'architecture/**/*.test.ts'],
  testTimeout: 180_000,
});
