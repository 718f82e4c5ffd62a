export { loadConfig, ConfigError, type Config, type LeverEnvironmentConfig, type RawEnv } from './config.js';
export {
  LEVER_ENVIRONMENTS,
  LEVER_HOSTS,
  SIMULATOR_API_PATHS,
  SIMULATOR_DEV_CLIENT,
  type LeverEnvironment,
} from './lever-hosts.js';
