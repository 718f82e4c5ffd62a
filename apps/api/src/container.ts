import { loadConfig, type Config, type RawEnv } from '@lever-connect/config';
import { createCore } from '@lever-connect/connections';
import { createLogger } from '@lever-connect/runtime';
import type { Logger } from 'pino';

/** The api's composition root: config → logger → domain services. */
export function createContainer(env: RawEnv = process.env, options: { logger?: Logger; config?: Readonly<Config> } = {}) {
  const config = options.config ?? loadConfig(env, { port: 3000 });
  const logger = options.logger ?? createLogger(config, 'api');
  const core = createCore(config, logger, { processName: 'api' });
  return { config, logger, core };
}
