import http from 'node:http';
import { isIP } from 'node:net';
import { safeEqual } from '@lever-connect/crypto';

export interface MetricsRendering {
  contentType: string;
  body: string;
}

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6 (a dual-stack socket reports `::ffff:127.0.0.1`). */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const bare = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
  return bare === '::1' || (isIP(bare) === 4 && bare.startsWith('127.'));
}

export type MetricsAccess = 'allowed' | 'token_required' | 'loopback_only';

/**
 * Who may read the worker's /metrics. With METRICS_TOKEN, whoever sends it as a bearer token (loopback
 * included: one rule, whatever the network looks like); without, loopback clients only. Metrics carry no
 * secret, but queue depths, tenants' failure counts and timings are operational detail an outsider should
 * not read, and the image listens on 0.0.0.0.
 */
export function metricsAccess(request: { remoteAddress: string | undefined; authorization: string | undefined }, token: string | undefined): MetricsAccess {
  if (token === undefined) return isLoopback(request.remoteAddress) ? 'allowed' : 'loopback_only';
  const match = /^Bearer\s+(\S+)\s*$/i.exec(request.authorization ?? '');
  return match && safeEqual(match[1]!, token) ? 'allowed' : 'token_required';
}

const json = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));

/** The worker's health and metrics endpoint, for orchestrators and Prometheus. */
export function createHealthServer(deps: { metricsToken: string | undefined; renderMetrics(): Promise<MetricsRendering> }): http.Server {
  return http.createServer((req, res) => {
    if (req.url === '/healthz') return json(res, 200, { status: 'ok' });
    if (req.url === '/metrics') {
      const access = metricsAccess({ remoteAddress: req.socket.remoteAddress, authorization: req.headers.authorization }, deps.metricsToken);
      if (access === 'token_required') {
        return json(res, 401, { error: { code: 'metrics_token_required', message: 'Send the METRICS_TOKEN as a bearer token' } }, { 'www-authenticate': 'Bearer' });
      }
      if (access === 'loopback_only') {
        return json(res, 403, { error: { code: 'forbidden', message: 'The worker answers /metrics on loopback only; set METRICS_TOKEN to scrape it from elsewhere' } });
      }
      deps.renderMetrics().then(
        (m) => res.writeHead(200, { 'content-type': m.contentType }).end(m.body),
        () => json(res, 503, { error: { code: 'metrics_unavailable', message: 'The metrics could not be rendered; try again' } }),
      );
      return;
    }
    json(res, 404, { error: { code: 'route_not_found', message: 'not found' } });
  });
}
