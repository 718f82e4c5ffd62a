// Vite's default server conditions, with `source` first (vite is not a direct dependency to import them from).
const conditions = ['source', 'module', 'node', 'development|production'];
import { defineProject, type UserWorkspaceConfig } from 'vitest/config';

/**
 * Per-project vitest config: resolve workspace packages to their TypeScript sources (`source` export
 * condition), so tests never need a build first.
 */
export function projectConfig(name: string, extra: UserWorkspaceConfig['test'] = {}): UserWorkspaceConfig {
  return defineProject({
    resolve: { conditions: conditions },
    ssr: { resolve: { conditions: conditions } },
    test: {
      name,
      include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
      environment: 'node',
      testTimeout: 30_000,
      hookTimeout: 60_000,
      ...extra,
    },
  });
}
