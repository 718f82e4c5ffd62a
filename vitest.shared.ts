import { defineProject, type UserWorkspaceConfig } from 'vitest/config';

/**
 * Per-project vitest config: resolve workspace packages to their TypeScript sources (`source` export
 * condition), so tests never need a build first.
 */
export function projectConfig(name: string, extra: UserWorkspaceConfig['test'] = {}): UserWorkspaceConfig {
  return defineProject({
    resolve: { conditions: ['source', 'import', 'node', 'default'] },
    ssr: { resolve: { conditions: ['source', 'import', 'node', 'default'], externalConditions: ['source'] } },
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
