import pino, { type Logger } from 'pino';
import type { Config } from '@lever-connect/config';

/**
 * Paths that may carry a secret anywhere in a log object. Redaction is the second line of defence: the
 * first is never passing a token to a logger at all.
 */
const SECRET_KEYS = [
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
];

/**
 * Paths that may carry a secret in a log object: each secret-bearing key at the top level and up to three
 * levels down, plus the request and response headers. Redaction is the second line of defence: the first is
 * never passing a token to a logger at all.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  // An OAuth code only ever sits in a callback's query; `code` elsewhere is an error code worth keeping.
  'query.code',
  '*.query.code',
  ...SECRET_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`, `*.*.*.${key}`]),
];

/**
 * The process's logger. `destination` defaults to stdout (pino's own default, asynchronous); the benchmarks
 * pass one to run the product's exact logging without printing it.
 */
export function createLogger(config: Pick<Config, 'logLevel' | 'logFormat'>, name: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    name,
    level: config.logLevel,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    // Fastify adds no serializers to a logger instance it is given; these keep request logs small and
    // free of connect tokens and OAuth codes.
    serializers: {
      req: (req: { method?: string; url?: string; id?: string }) => ({ method: req.method, url: redactUrl(req.url ?? '') }),
      res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
      err: pino.stdSerializers.err,
    },
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
