import { defineConfig } from 'vitest/config';
import { projectConfig } from './vitest.shared.ts';

// `pnpm test:chaos`: the full reliability suite (real processes, ~20–40 minutes), one file, no parallelism.
export default defineConfig({
  test: {
    projects: [
      {
        ...projectConfig('chaos', { include: ['test/chaos/reliability.test.ts', 'test/chaos/depth.test.ts'], testTimeout: 15 * 60_000, hookTimeout: 120_000 }),
      },
    ],
    fileParallelism: false,
  },
});
