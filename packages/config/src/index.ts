export { isLeverEvent, LEVER_EVENTS, type LeverEvent } from './lever-events.js';
export { loadConfig, ConfigError, WEBHOOK_SCOPES, type Config, type LeverEnvironmentConfig, type ProxyConfig, type RawEnv, type RoutePattern } from './config.js';
export {
  LEVER_ENVIRONMENTS,
  LEVER_HOSTS,
  SIMULATOR_API_PATHS,
  SIMULATOR_DEV_CLIENT,
  type LeverEnvironment,
} from './lever-hosts.js';
