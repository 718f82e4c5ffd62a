import { defineConfig } from 'vitest/config';

// One vitest run for the whole monorepo: each app/package is a project with its own vitest.config.ts.
export default defineConfig({
  test: {
    projects: ['apps/*/vitest.config.ts', 'packages/*/vitest.config.ts', 'test/vitest.config.ts'],
  },
});
