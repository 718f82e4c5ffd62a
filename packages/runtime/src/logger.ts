import pino, { type Logger } from 'pino';
import type { Config } from '@lever-connect/config';

/**
 * Keys whose value is a secret wherever they appear in a log object. Redaction is the second line of
 * defence: the first is never passing a token to a logger at all.
 */
const SECRET_KEYS = new Set([
  'accessToken',
  'refreshToken',
  'access_token',
  'refresh_token',
  'clientSecret',
  'client_secret',
  'secret',
  'token',
  'apiKey',
  'authorization',
  'password',
  'cookie',
  'set-cookie',
]);
const CENSOR = '[redacted]';
/** Levels below the top a secret is looked for (deeper objects are logged as they are). */
const MAX_DEPTH = 6;

function walkable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !ArrayBuffer.isView(value) && !(value instanceof ArrayBuffer) && !(value instanceof Date);
}

/**
 * `value` with every secret-bearing key censored at any depth up to MAX_DEPTH, and an OAuth `code` under a
 * `query` (`code` elsewhere is an error code worth keeping). Copy on write: an object that holds no secret
 * is returned as it is, without a copy, so the common log line costs one walk over a few keys.
 */
export function redactSecrets<T>(value: T, depth = 0, parentKey = ''): T {
  if (!walkable(value) || depth > MAX_DEPTH) return value;
  let copy: Record<string, unknown> | unknown[] | undefined;
  const keys = Object.keys(value);
  for (const key of keys) {
    const v = value[key];
    const secret = v !== undefined && (SECRET_KEYS.has(key) || (key === 'code' && parentKey === 'query'));
    const next = secret ? CENSOR : redactSecrets(v, depth + 1, key);
    if (next !== v) {
      copy ??= Array.isArray(value) ? [...value] : { ...value };
      (copy as Record<string, unknown>)[key] = next;
    }
  }
  return (copy ?? value) as T;
}

const serializers: Record<string, (value: never) => unknown> = {
  req: (req: { method?: string; url?: string }) => ({ method: req.method, url: redactUrl(req.url ?? '') }),
  res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
  err: pino.stdSerializers.err,
};

/**
 * Every log object on its way out: the request, response and error serializers (small, secret-free shapes;
 * Fastify adds no serializers to a logger instance it is given), then redactSecrets. One pass in a
 * formatter rather than pino's `redact` paths: ~50 wildcard paths (each key at four depths) made redaction
 * about a sixth of the api's CPU under load (profiled on the proxy and the token endpoint), this walk a
 * small fraction of that. Bindings of child loggers are not walked: we bind ids and key prefixes only.
 */
export function formatLogObject(object: Record<string, unknown>): Record<string, unknown> {
  let out = object;
  for (const key in serializers) {
    if (out[key] !== undefined) {
      out = out === object ? { ...object } : out;
      out[key] = serializers[key]!(out[key] as never);
    }
  }
  return redactSecrets(out);
}

/**
 * The process's logger. `destination` defaults to stdout (pino's own default, asynchronous); the benchmarks
 * pass one to run the product's exact logging without printing it.
 */
export function createLogger(config: Pick<Config, 'logLevel' | 'logFormat'>, name: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    name,
    level: config.logLevel,
    formatters: { log: formatLogObject },
    ...(config.logFormat === 'pretty'
      ? { transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } } }
      : {}),
  };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * The URL as it may be logged: connect tokens (path) and OAuth `code`/`state` (query) are bearer secrets
 * for a few minutes, so these routes are logged without them.
 */
export function redactUrl(url: string): string {
  const [path = '', query] = url.split('?');
  const safePath = path.replace(/^\/connect\/[^/]+/, '/connect/[redacted]');
  if (!query) return safePath;
  if (safePath.startsWith('/oauth/callback') || safePath.startsWith('/connect/')) return `${safePath}?[redacted]`;
  return `${safePath}?${query}`;
}
