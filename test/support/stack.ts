import { startTestStack, type ManagedProcess, type TestStack, type TestStackOptions } from '@lever-connect/testing';

export interface Stack extends TestStack {
  /** The first api process: PUBLIC_BASE_URL points at it, so it serves the OAuth callback. */
  api: ManagedProcess;
  adminKey: string;
}

/**
 * Boots the whole product as real processes: the Lever simulator, the api (1 unless `apis`) and the workers
 * (1 unless `workers`), on free ports, with a fresh database, a private Redis key prefix and an admin key.
 * Everything is removed by `stop()`.
 */
export async function startStack(options: Omit<TestStackOptions, 'sim'> = {}): Promise<Stack> {
  const stack = await startTestStack({
    ...options,
    apis: Math.max(1, options.apis ?? 1),
    workers: options.workers ?? 1,
    env: { LOG_LEVEL: 'info', REFRESH_JITTER_SECONDS: '1', ...options.env },
  });
  const adminKey = await stack.createAdminKey('e2e admin').catch(async (error: unknown) => {
    await stack.stop();
    throw error;
  });
  return { ...stack, api: stack.apis[0]!, adminKey };
}
